#include "common/yaml_load.h"

#include <vector>

namespace dm {

YAML::Node load_one_yaml_document(const std::string& text) {
  std::vector<YAML::Node> docs = YAML::LoadAll(text);
  if (docs.size() > 1)
    throw YAML::ParserException(
        docs[1].Mark(),
        "more than one YAML document: the file goes on after its top-level value ends (text "
        "after a closing '}' or ']', or a '---' separator)");
  return docs.empty() ? YAML::Node() : docs.front();
}

}  // namespace dm
