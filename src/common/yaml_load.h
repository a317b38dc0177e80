// Loading users' YAML files (config, approvers, rules) as exactly one document.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace dm {

// Parses `text` like YAML::Load, but as exactly ONE document. YAML::Load stops after the first
// document and drops the rest without a word, so `{"environments": {…}}` followed by a block
// `recovery:` section silently loses `recovery`. Throws YAML::ParserException whose mark is the
// start of the second document when there is more than one; otherwise throws what YAML::Load
// throws. An empty text gives a Null node. Call it where YAML::Exception is already caught.
YAML::Node load_one_yaml_document(const std::string& text);

}  // namespace dm
