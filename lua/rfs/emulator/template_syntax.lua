-- rfs.emulator.template_syntax: the HCL native syntax as Terraform writes it, read far
-- enough for the emulator: the file's blocks and attributes (each expression kept as its
-- source text and extent), and literal values decoded on request.
--
-- Every scan goes forward with anchored string.find; an expression's end is found by one
-- pass that tracks brackets, quoted strings, ${ } and %{ } templates, heredocs and
-- comments on an explicit stack, so nesting depth costs no recursion there. Block nesting
-- and literal decoding recurse, each capped. Errors are raised as { line =, message = }
-- and turned into "line N: ..." by rfs.emulator.template.

local cjson = require "cjson.safe"

local syntax = {}

local MAX_BLOCK_DEPTH = 64    -- nested blocks (Terraform's own schemas go a few levels deep)
local MAX_LITERAL_DEPTH = 64  -- nested lists/objects decoded as a literal value

local NOT_LITERAL = setmetatable({}, { __tostring = function() return "not a literal" end })
syntax.NOT_LITERAL = NOT_LITERAL

-- Positions and errors -------------------------------------------------------------

function syntax.new(s)
  local newlines, n = {}, 0
  for pos in s:gmatch("()\n") do
    n = n + 1
    newlines[n] = pos
  end
  return { s = s, n = #s, newlines = newlines }
end

--- The 1-based line of byte position pos (binary search over the newline positions).
function syntax.line_of(P, pos)
  local nl = P.newlines
  local lo, hi, before = 1, #nl, 0
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    if nl[mid] < pos then
      before, lo = mid, mid + 1
    else
      hi = mid - 1
    end
  end
  return before + 1
end
local line_of = syntax.line_of

--- A piece of the template quoted for a message: printable ASCII as is, other bytes as \xNN.
function syntax.show(text)
  if text == nil or text == "" then return "the end of the template" end
  if #text > 40 then text = text:sub(1, 40) .. "..." end
  return "'" .. text:gsub("[^\32-\126]", function(c) return ("\\x%02X"):format(c:byte()) end) .. "'"
end
local show = syntax.show

function syntax.fail(P, pos, fmt, ...)
  error({ line = line_of(P, pos), message = fmt:format(...) }, 0)
end
local fail = syntax.fail

local function char_at(P, pos)
  return P.s:sub(pos, pos)
end

-- Blanks and comments --------------------------------------------------------------

--- Skips blanks and comments from p; with newlines, line breaks too. Returns the position
--- of the next significant byte (P.n + 1 at the end). A line comment stops before its
--- line break when newlines is false.
local function skip_space(P, p, newlines)
  local s = P.s
  while true do
    local q = s:find(newlines and "[^ \t\r\n]" or "[^ \t\r]", p)
    if not q then return P.n + 1 end
    local c, two = s:byte(q), s:sub(q, q + 1)
    if c == 35 or two == "//" then -- # or //
      local e = s:find("\n", q, true)
      if not e then return P.n + 1 end
      p = newlines and e + 1 or e
    elseif two == "/*" then
      local e = s:find("*/", q + 2, true)
      if not e then fail(P, q, "unterminated comment: '/*' without '*/'") end
      p = e + 2
    else
      return q
    end
  end
end
syntax.skip_space = skip_space

-- Heredocs ------------------------------------------------------------------------

--- The heredoc starting at q ("<<MARKER" or "<<-MARKER" at the end of its line):
--- returns the first byte of its body, the last byte of its body (the line break before
--- the closing marker), the position just after the closing marker, and whether it
--- strips indentation.
local function heredoc(P, q)
  local s = P.s
  local _, e, dash, marker = s:find("^<<(%-?)([%a_][%w_%-]*)[ \t]*\r?\n", q)
  if not e then
    fail(P, q, "invalid heredoc: '<<' must be followed by a marker such as EOF and the end of the line")
  end
  local pat = "\n[ \t]*" .. marker:gsub("%-", "%%-") .. "()[ \t]*\r?"
  local close, _, after = s:find(pat .. "\n", e)
  if not close then close, _, after = s:find(pat .. "$", e) end
  if not close then fail(P, q, "unterminated heredoc: no line with the closing marker %s", marker) end
  return e + 1, close, after, dash == "-"
end

-- Expressions ---------------------------------------------------------------------

local EXPR_BYTES = '[%(%)%[%]{}"<#/\n=,]'
local STRING_BYTES = '["\\$%%\n]'
local CLOSER = { ["("] = ")", ["["] = "]", ["{"] = "}" }

--- Finds the end of the expression starting at p: the position of the byte that ends it
--- (a line break, '}', ')', ']', a comment, or with stop_comma a ',', outside any bracket
--- and string), or P.n + 1. With single, p is an opening bracket and the position of its
--- closing bracket is returned. Raises on unbalanced brackets and unterminated strings,
--- heredocs and comments.
local function scan_expr(P, p, stop_comma, single)
  local s = P.s
  -- stack of what is open: ")", "]", "}" (brackets), "S" (a quoted string),
  -- "I" (a ${ } or %{ } inside a quoted string)
  local stack, opened, depth = {}, {}, 0
  while true do
    if depth > 0 and stack[depth] == "S" then
      local q = s:find(STRING_BYTES, p)
      if not q then fail(P, opened[depth], "unterminated string") end
      local c = s:byte(q)
      if c == 34 then -- "
        depth, p = depth - 1, q + 1
      elseif c == 92 then -- backslash: the next byte is escaped
        p = q + 2
      elseif c == 10 then
        fail(P, opened[depth], "unterminated string: a quoted string must end on the line it starts")
      else -- $ or %
        local nxt = s:byte(q + 1)
        if nxt == 123 then -- ${ or %{
          depth = depth + 1
          stack[depth], opened[depth], p = "I", q, q + 2
        elseif nxt == c then -- $$ or %%: an escaped template sequence
          p = q + 2
        else
          p = q + 1
        end
      end
    else
      local q = s:find(EXPR_BYTES, p)
      if not q then
        if depth > 0 then
          local what = stack[depth] == "I" and "${" or s:sub(opened[depth], opened[depth])
          fail(P, opened[depth], "unclosed '%s'", what)
        end
        return P.n + 1
      end
      local c = s:sub(q, q)
      if CLOSER[c] then
        depth = depth + 1
        stack[depth], opened[depth], p = CLOSER[c], q, q + 1
      elseif c == ")" or c == "]" or c == "}" then
        if depth == 0 then return q end
        local top = stack[depth]
        if c == top or (c == "}" and top == "I") then
          depth, p = depth - 1, q + 1
          if single and depth == 0 then return q end
        else
          local want = top == "I" and "}" or top
          fail(P, q, "expected '%s' to close '%s' from line %d, found '%s'", want,
            top == "I" and "${" or s:sub(opened[depth], opened[depth]), line_of(P, opened[depth]), c)
        end
      elseif c == '"' then
        depth = depth + 1
        stack[depth], opened[depth], p = "S", q, q + 1
      elseif c == "<" then
        if s:byte(q + 1) == 60 then
          local _, _, after = heredoc(P, q)
          p = after
        else
          p = q + 1
        end
      elseif c == "#" or (c == "/" and s:byte(q + 1) == 47) then
        if depth == 0 then return q end
        p = s:find("\n", q, true) or P.n + 1
      elseif c == "/" then
        if s:byte(q + 1) == 42 then -- /* */
          local e = s:find("*/", q + 2, true)
          if not e then fail(P, q, "unterminated comment: '/*' without '*/'") end
          p = e + 2
        else
          p = q + 1
        end
      elseif c == "\n" then
        if depth == 0 then return q end
        p = q + 1
      elseif c == "," then
        if depth == 0 and stop_comma then return q end
        p = q + 1
      else -- "="
        local prev, nxt = s:byte(q - 1), s:byte(q + 1)
        if nxt == 61 then -- ==
          p = q + 2
        elseif depth == 0 and not (prev == 33 or prev == 60 or prev == 62 or nxt == 62) then
          fail(P, q, "unexpected '=': one attribute per line")
        else
          p = q + 1
        end
      end
    end
  end
end
syntax.scan_expr = scan_expr

-- Literals ------------------------------------------------------------------------

local function utf8_char(cp)
  if cp >= 0xD800 and cp <= 0xDFFF or cp > 0x10FFFF then cp = 0xFFFD end
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40) end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end
syntax.utf8_char = utf8_char

local ESCAPES = { n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\" }

--- The quoted string at p (p is its opening quote): its decoded text and the position
--- after its closing quote; NOT_LITERAL (and that position) when it holds a ${ } or %{ }.
local function quoted_string(P, p)
  local s = P.s
  local parts, n, template = {}, 0, false
  local from = p + 1
  local q = from
  while true do
    q = s:find(STRING_BYTES, q)
    if not q or s:byte(q) == 10 then fail(P, p, "unterminated string") end
    local c = s:byte(q)
    if c == 34 then
      n = n + 1
      parts[n] = s:sub(from, q - 1)
      if template then return NOT_LITERAL, q + 1 end
      return table.concat(parts), q + 1
    elseif c == 92 then
      n = n + 1
      parts[n] = s:sub(from, q - 1)
      local e = s:sub(q + 1, q + 1)
      if ESCAPES[e] then
        n = n + 1
        parts[n], from = ESCAPES[e], q + 2
      elseif e == "u" or e == "U" then
        local hex = s:match(e == "u" and "^%x%x%x%x" or "^%x%x%x%x%x%x%x%x", q + 2)
        if not hex then fail(P, q, "invalid escape: \\%s needs %d hexadecimal digits", e, e == "u" and 4 or 8) end
        n = n + 1
        parts[n], from = utf8_char(tonumber(hex, 16)), q + 2 + #hex
      else
        fail(P, q, "invalid escape sequence %s in a string", show("\\" .. e))
      end
      q = from
    else -- $ or %
      local nxt = s:byte(q + 1)
      if nxt == 123 then -- a template sequence: skip it whole, the value is not a literal
        template = true
        local close = scan_expr(P, q + 1, false, true)
        q, from = close + 1, close + 1
      elseif nxt == c and s:byte(q + 2) == 123 then -- $${ or %%{: a literal ${ or %{
        n = n + 1
        parts[n] = s:sub(from, q)
        q, from = q + 2, q + 2
      else
        q = q + 1
      end
    end
  end
end
syntax.quoted_string = quoted_string

local function heredoc_literal(P, q)
  local s = P.s
  local first, last, after, strip = heredoc(P, q)
  local body = s:sub(first, last)
  if body:find("[%$%%]{") then
    local plain = body:gsub("%$%${", ""):gsub("%%%%{", "")
    if plain:find("[%$%%]{") then return NOT_LITERAL, after end
    body = body:gsub("%$%${", "${"):gsub("%%%%{", "%%{")
  end
  if strip then
    local indent
    for line in body:gmatch("([^\n]*)\n") do
      if line:find("[^ \t\r]") then
        local lead = #line:match("^[ \t]*")
        if not indent or lead < indent then indent = lead end
      end
    end
    if indent and indent > 0 then
      local out = {}
      for line in body:gmatch("([^\n]*)\n") do out[#out + 1] = line:sub(indent + 1) end
      body = table.concat(out, "\n") .. "\n"
    end
  end
  return body, after
end

local function finite(v)
  return v and v == v and v ~= math.huge and v ~= -math.huge
end

local decode -- decode(P, p, depth) -> value (or NOT_LITERAL), position after it

local function decode_list(P, p, depth)
  local s = P.s
  local list, n = {}, 0
  p = skip_space(P, p + 1, true)
  while char_at(P, p) ~= "]" do
    local v
    v, p = decode(P, p, depth + 1)
    if v == NOT_LITERAL then return NOT_LITERAL, p end
    n = n + 1
    list[n] = v
    p = skip_space(P, p, true)
    local c = s:sub(p, p)
    if c == "," then
      p = skip_space(P, p + 1, true)
    elseif c ~= "]" then
      return NOT_LITERAL, p
    end
  end
  return list, p + 1
end

local function object_key(P, p)
  local s = P.s
  local c = s:sub(p, p)
  if c == '"' then return quoted_string(P, p) end
  local _, e = s:find("^[%a_][%w_%-]*", p)
  if e then return s:sub(p, e), e + 1 end
  return NOT_LITERAL, p
end

local function decode_object(P, p, depth)
  local s = P.s
  local obj = {}
  p = skip_space(P, p + 1, true)
  while char_at(P, p) ~= "}" do
    local k, v
    k, p = object_key(P, p)
    if k == NOT_LITERAL then return NOT_LITERAL, p end
    p = skip_space(P, p, false)
    local c = s:sub(p, p)
    if not (c == ":" or (c == "=" and s:byte(p + 1) ~= 61)) then return NOT_LITERAL, p end
    v, p = decode(P, skip_space(P, p + 1, false), depth + 1)
    if v == NOT_LITERAL then return NOT_LITERAL, p end
    obj[k] = v
    p = skip_space(P, p, true)
    if s:sub(p, p) == "," then p = skip_space(P, p + 1, true) end
  end
  return obj, p + 1
end

decode = function(P, p, depth)
  if depth > MAX_LITERAL_DEPTH or p > P.n then return NOT_LITERAL, p end
  local s = P.s
  local c = s:sub(p, p)
  if c == '"' then return quoted_string(P, p) end
  if c == "[" then return decode_list(P, p, depth) end
  if c == "{" then return decode_object(P, p, depth) end
  if c == "<" then
    if s:byte(p + 1) == 60 then return heredoc_literal(P, p) end
    return NOT_LITERAL, p
  end
  local _, e = s:find("^%-?%d+", p)
  if e then
    local _, fe = s:find("^%.%d+", e + 1)
    e = fe or e
    local _, ee = s:find("^[eE][%+%-]?%d+", e + 1)
    e = ee or e
    local v = tonumber(s:sub(p, e))
    if not finite(v) then return NOT_LITERAL, e + 1 end
    return v, e + 1
  end
  local word
  _, e, word = s:find("^([%a_][%w_%-]*)", p)
  if word == "true" then return true, e + 1 end
  if word == "false" then return false, e + 1 end
  if word == "null" then return cjson.null, e + 1 end
  return NOT_LITERAL, p
end

--- The literal value of the expression at [p, stop), or NOT_LITERAL.
function syntax.literal(P, p, stop)
  local v, e = decode(P, p, 0)
  if v == NOT_LITERAL then return NOT_LITERAL end
  if skip_space(P, e, false) < stop then return NOT_LITERAL end
  return v
end

--- The keys of the object constructor at p (p is its "{"), whatever its values are;
--- nil when a key is not a literal name or string.
function syntax.object_keys(P, p, stop)
  local s = P.s
  local keys = {}
  p = skip_space(P, p + 1, true)
  while p < stop and char_at(P, p) ~= "}" do
    local k
    k, p = object_key(P, p)
    if k == NOT_LITERAL then return nil end
    p = skip_space(P, p, false)
    local c = s:sub(p, p)
    if not (c == ":" or (c == "=" and s:byte(p + 1) ~= 61)) then return nil end
    keys[#keys + 1] = k
    p = skip_space(P, scan_expr(P, skip_space(P, p + 1, false), true), true)
    c = s:sub(p, p)
    if c == "," then
      p = skip_space(P, p + 1, true)
    elseif c ~= "}" then
      return nil
    end
  end
  if char_at(P, p) ~= "}" or skip_space(P, p + 1, false) < stop then return nil end
  return keys
end

-- Blocks --------------------------------------------------------------------------

local IDENT = "^[%a_][%w_%-]*"

local parse_body

local function parse_block(P, name, start, p, depth)
  local s = P.s
  local labels = {}
  while true do
    local c = s:sub(p, p)
    if c == "{" then break end
    if c == '"' then
      local label, after = quoted_string(P, p)
      if label == NOT_LITERAL then fail(P, p, "a block label cannot hold a template sequence") end
      labels[#labels + 1] = label
      p = skip_space(P, after, false)
    else
      local _, e = s:find(IDENT, p)
      if not e then
        fail(P, p, "expected a label or '{' after '%s', found %s", name, show(s:match("^[^\n]*", p)))
      end
      labels[#labels + 1] = s:sub(p, e)
      p = skip_space(P, e + 1, false)
    end
  end
  local attrs, blocks, after = parse_body(P, p + 1, depth + 1, p)
  return { type = name, labels = labels, line = line_of(P, start), pos = start, epos = after - 1,
           attrs = attrs, blocks = blocks }, after
end

--- Reads a body: attributes and blocks up to the "}" closing the "{" at opener (or to
--- the end of the file when opener is nil). Returns attributes by name, blocks in
--- order, and the position after the closing "}".
parse_body = function(P, p, depth, opener)
  if depth > MAX_BLOCK_DEPTH then fail(P, p, "blocks nested more than %d deep", MAX_BLOCK_DEPTH) end
  local s = P.s
  local attrs, blocks = {}, {}
  while true do
    p = skip_space(P, p, true)
    if p > P.n then
      if opener then fail(P, opener, "unclosed '{': no matching '}'") end
      return attrs, blocks, p
    end
    local c = s:sub(p, p)
    if c == "}" then
      if not opener then fail(P, p, "unexpected '}' with no block open") end
      return attrs, blocks, p + 1
    end
    local _, ie = s:find(IDENT, p)
    if not ie then
      fail(P, p, "expected an attribute or a block, found %s", show(s:match("^[^\n]*", p)))
    end
    local name, start = s:sub(p, ie), p
    p = skip_space(P, ie + 1, false)
    c = s:sub(p, p)
    if c == "=" and s:byte(p + 1) ~= 61 then
      if not opener then fail(P, start, "an attribute (%s) cannot be set outside a block", show(name)) end
      local from = skip_space(P, p + 1, false)
      local stop = scan_expr(P, from, false)
      local expr = s:sub(from, stop - 1):match("^(.-)[ \t\r]*$")
      if expr == "" then fail(P, p, "attribute '%s' has no value after '='", name) end
      local after = s:sub(stop, stop)
      if after == ")" or after == "]" then fail(P, stop, "unexpected '%s'", after) end
      if attrs[name] then
        fail(P, start, "attribute '%s' is set twice (first on line %d)", name, attrs[name].line)
      end
      attrs[name] = { expr = expr, line = line_of(P, start), pos = from, stop = stop }
      p = stop
    elseif c == "{" or c == '"' or s:find(IDENT, p) then
      local block
      block, p = parse_block(P, name, start, p, depth)
      blocks[#blocks + 1] = block
    else
      fail(P, p, "expected '=' or a block after '%s', found %s", name, show(s:match("^[^\n]*", p)))
    end
  end
end

--- The top-level blocks of a file.
function syntax.parse_file(P)
  local _, blocks = parse_body(P, 1, 0, nil)
  return blocks
end

return syntax
