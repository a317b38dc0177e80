#include "aws/xml.h"

#include <cctype>

namespace dm::aws {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<XmlNode> document() {
    if (auto st = skip_misc(); !st) return st.error();
    if (!at('<')) return fail("no root element");
    XmlNode root;
    if (auto st = element(root, 1); !st) return st.error();
    if (auto st = skip_misc(); !st) return st.error();
    if (i_ != s_.size()) return fail("content after the root element");
    return root;
  }

 private:
  Error fail(std::string_view what) const {
    return make_error(Errc::protocol,
                      "malformed XML at byte " + std::to_string(i_) + ": " + std::string(what));
  }
  bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool starts(std::string_view p) const { return s_.substr(i_).starts_with(p); }
  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }

  // Whitespace, the XML declaration, processing instructions and comments outside the root.
  Status skip_misc() {
    for (;;) {
      skip_ws();
      if (starts("<?")) {
        auto e = s_.find("?>", i_);
        if (e == std::string_view::npos) return fail("unterminated processing instruction");
        i_ = e + 2;
      } else if (starts("<!--")) {
        auto e = s_.find("-->", i_);
        if (e == std::string_view::npos) return fail("unterminated comment");
        i_ = e + 3;
      } else if (starts("<!")) {
        return fail("DOCTYPE and DTDs are not accepted");
      } else {
        return Status::Ok();
      }
    }
  }

  static bool name_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == ':' || u >= 0x80;
  }

  Result<std::string> name() {
    std::size_t b = i_;
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    if (b == i_) return fail("expected a name");
    return std::string(s_.substr(b, i_ - b));
  }

  static std::string local(const std::string& n) {
    auto c = n.rfind(':');
    return c == std::string::npos ? n : n.substr(c + 1);
  }

  static void put_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // At '&': appends the decoded entity.
  Status entity(std::string& out) {
    auto semi = s_.find(';', i_);
    if (semi == std::string_view::npos || semi - i_ > 12) return fail("unterminated entity");
    std::string_view e = s_.substr(i_ + 1, semi - i_ - 1);
    if (e == "lt")
      out += '<';
    else if (e == "gt")
      out += '>';
    else if (e == "amp")
      out += '&';
    else if (e == "quot")
      out += '"';
    else if (e == "apos")
      out += '\'';
    else if (e.size() >= 2 && e[0] == '#') {
      bool hex = e[1] == 'x' || e[1] == 'X';
      std::string_view digits = e.substr(hex ? 2 : 1);
      if (digits.empty()) return fail("bad character reference");
      unsigned long cp = 0;
      for (char c : digits) {
        int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : hex && std::isxdigit(static_cast<unsigned char>(c))
                    ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                    : -1;
        if (d < 0) return fail("bad character reference");
        cp = cp * (hex ? 16 : 10) + static_cast<unsigned long>(d);
        if (cp > 0x10FFFF) return fail("bad character reference");
      }
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return fail("bad character reference");
      put_utf8(out, cp);
    } else {
      return fail("unknown entity");
    }
    i_ = semi + 1;
    return Status::Ok();
  }

  Status attributes() {
    for (;;) {
      skip_ws();
      if (at('>') || starts("/>")) return Status::Ok();
      if (auto n = name(); !n) return n.error();
      skip_ws();
      if (!at('=')) return fail("expected '=' after attribute name");
      ++i_;
      skip_ws();
      if (!at('"') && !at('\'')) return fail("expected a quoted attribute value");
      char q = s_[i_++];
      auto e = s_.find(q, i_);
      if (e == std::string_view::npos) return fail("unterminated attribute value");
      if (s_.substr(i_, e - i_).find('<') != std::string_view::npos)
        return fail("'<' in attribute");
      i_ = e + 1;
    }
  }

  // At '<' of a start tag.
  Status element(XmlNode& node, int depth) {
    if (depth > kXmlMaxDepth) return fail("elements nested too deeply");
    ++i_;
    auto n = name();
    if (!n) return n.error();
    node.name = local(*n);
    if (auto st = attributes(); !st) return st;
    if (starts("/>")) {
      i_ += 2;
      return Status::Ok();
    }
    ++i_;  // '>'
    for (;;) {
      if (i_ >= s_.size()) return fail("unterminated element <" + node.name + ">");
      char c = s_[i_];
      if (c == '<') {
        if (starts("</")) {
          i_ += 2;
          auto close = name();
          if (!close) return close.error();
          if (*close != *n) return fail("mismatched closing tag");
          skip_ws();
          if (!at('>')) return fail("expected '>'");
          ++i_;
          return Status::Ok();
        }
        if (starts("<!--")) {
          auto e = s_.find("-->", i_);
          if (e == std::string_view::npos) return fail("unterminated comment");
          i_ = e + 3;
        } else if (starts("<![CDATA[")) {
          auto e = s_.find("]]>", i_);
          if (e == std::string_view::npos) return fail("unterminated CDATA");
          node.text.append(s_.substr(i_ + 9, e - i_ - 9));
          i_ = e + 3;
        } else if (starts("<?")) {
          auto e = s_.find("?>", i_);
          if (e == std::string_view::npos) return fail("unterminated processing instruction");
          i_ = e + 2;
        } else if (starts("<!")) {
          return fail("DOCTYPE and DTDs are not accepted");
        } else {
          node.children.emplace_back();
          if (auto st = element(node.children.back(), depth + 1); !st) return st;
        }
      } else if (c == '&') {
        if (auto st = entity(node.text); !st) return st;
      } else {
        node.text.push_back(c);
        ++i_;
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

const XmlNode* XmlNode::child(std::string_view n) const {
  for (const auto& c : children)
    if (c.name == n) return &c;
  return nullptr;
}

const XmlNode* XmlNode::find(std::initializer_list<std::string_view> path) const {
  const XmlNode* cur = this;
  for (auto p : path) {
    cur = cur->child(p);
    if (!cur) return nullptr;
  }
  return cur;
}

const XmlNode* XmlNode::descendant(std::string_view n) const {
  if (name == n) return this;
  for (const auto& c : children)
    if (const auto* d = c.descendant(n)) return d;
  return nullptr;
}

Result<XmlNode> parse_xml(std::string_view doc) {
  if (doc.size() > kXmlMaxBytes) return make_error(Errc::too_large, "XML document over 1 MiB");
  return Parser(doc).document();
}

}  // namespace dm::aws
