--- The shown suggestion: accept part of it, dismiss it, and tell the server what the user saw
--- and did (the signals of issue 20: didShowCompletion, didPartiallyAcceptCompletion,
--- vetted/didDismissCompletion; a whole accept runs the item's own `vetted.accepted` command).
---
--- Accepting and dismissing go through the public `vim.lsp.inline_completion.get()`, whose
--- `on_accept` hands over the item and hides it. Knowing which item is on screen needs the
--- native completor's `current` field (Neovim 0.12 has no public "peek"); `displayed` reads it
--- defensively and the shown signal is skipped when its shape is not the expected one.

local M = {}

local api = vim.api

--- Extmark namespace the native client draws ghost text in.
local GHOST_NS = api.nvim_create_namespace("nvim.lsp.inline_completion")

--- Per buffer: the id (or text) of the item last reported shown.
local shown = {} ---@type table<integer, string>

--- Per buffer: when (`vim.uv.now()`) the last piece was accepted.
local accepted_at = {} ---@type table<integer, integer>

--- Milliseconds after a partial accept during which the accept keys wait for the rest
--- (the native client asks after a 200 ms pause) instead of doing their own job: a quick
--- second press would insert a tab or move the cursor off the suggestion's place.
M.REST_WAIT_MS = 1000

--- True when a ghost-text suggestion is drawn in `bufnr`.
---@param bufnr integer
---@return boolean
function M.visible(bufnr)
  return #api.nvim_buf_get_extmarks(bufnr, GHOST_NS, 0, -1, { limit = 1 }) > 0
end

--- The native inline-completion state of `bufnr` (internal to Neovim 0.12), or nil.
---@param bufnr integer
---@return table?
function M.completor(bufnr)
  local ok, capability = pcall(require, "vim.lsp._capability")
  local class = ok and type(capability) == "table" and type(capability.all) == "table"
    and capability.all.inline_completion
  local active = type(class) == "table" and class.active
  local completor = type(active) == "table" and active[bufnr]
  return type(completor) == "table" and completor or nil
end

--- The item drawn as ghost text in `bufnr` (a `vim.lsp.inline_completion.Item`), or nil.
---@param bufnr integer
---@return vim.lsp.inline_completion.Item?
function M.displayed(bufnr)
  local completor = M.completor(bufnr)
  local item = completor and completor.current
  if type(item) ~= "table" or type(item.client_id) ~= "number" or not M.visible(bufnr) then
    return nil
  end
  return item
end

--- The server's id of an item (`command.arguments[1].id`), or nil.
---@param item vim.lsp.inline_completion.Item
---@return string?
function M.item_id(item)
  local arguments = item.command and item.command.arguments
  local first = type(arguments) == "table" and arguments[1]
  local id = type(first) == "table" and first.id
  return type(id) == "string" and id or nil
end

--- The item as the server sent it (insertText, range, filterText, command).
--- Call before editing the buffer: the range is converted against the current text.
---@param item vim.lsp.inline_completion.Item
---@param client vim.lsp.Client
---@return table
function M.to_lsp_item(item, client)
  local lsp_item = {
    insertText = item.insert_text,
    filterText = item._filter_text,
    command = item.command,
  }
  if item.range then
    local ok, range = pcall(item.range.to_lsp, item.range, client.offset_encoding)
    lsp_item.range = ok and range or nil
  end
  return lsp_item
end

--- Byte index where the next word of `text` after byte `from` ends: whitespace and
--- punctuation before the word are included; the rest of `text` when no word follows.
---@param text string
---@param from integer bytes of `text` already in the document
---@return integer
function M.next_word(text, from)
  local rest = text:sub(from + 1)
  -- Bytes >= 0x80 belong to UTF-8 characters, counted as word characters.
  local _, stop = rest:find("^[^%w_\128-\255]*[%w_\128-\255]+")
  return from + (stop or #rest)
end

--- Byte index where the next line of `text` after byte `from` ends (its newline included).
---@param text string
---@param from integer
---@return integer
function M.next_line(text, from)
  return text:find("\n", from + 1, true) or #text
end

--- Bytes at the start of `a` and `b` that are the same, never ending inside a UTF-8 character.
---@param a string
---@param b string
---@return integer
local function common_prefix(a, b)
  local n = 0
  while n < #a and n < #b and a:byte(n + 1) == b:byte(n + 1) do
    n = n + 1
  end
  while n > 0 and n < #b and b:byte(n + 1) >= 0x80 and b:byte(n + 1) < 0xC0 do
    n = n - 1
  end
  return n
end

--- Length of `text` in UTF-16 code units, as the signals count it.
---@param text string
---@return integer
function M.utf16_length(text)
  return vim.str_utfindex(text, "utf-16")
end

--- Report the item displayed in `bufnr` as shown unless it is the one reported last.
---@param bufnr integer
function M.report_shown(bufnr)
  local item = M.displayed(bufnr)
  local client = item and vim.lsp.get_client_by_id(item.client_id)
  if not item or not client then
    return
  end
  local key = M.item_id(item) or vim.inspect(item.insert_text)
  accepted_at[bufnr] = nil
  if shown[bufnr] == key then
    return
  end
  shown[bufnr] = key
  client:notify("textDocument/didShowCompletion", { item = M.to_lsp_item(item, client) })
end

--- Insert the next piece of `item` up to `stop_at(text, already)` at the cursor; returns
--- the byte where the inserted piece ends in `text` and whether that is all of it.
--- The item's range counts the text between its start and the cursor as already typed.
---@param bufnr integer
---@param text string
---@param range vim.Range?
---@param stop_at fun(text: string, from: integer): integer
---@return integer stop, boolean whole
local function insert_piece(bufnr, text, range, stop_at)
  local win = vim.fn.bufwinid(bufnr)
  local cursor = api.nvim_win_get_cursor(win)
  local row, col = cursor[1] - 1, cursor[2]
  local start_col, end_row, end_col = col, row, col
  if range and range.start.row == row and range.start.col <= col then
    start_col, end_row, end_col = range.start.col, range.end_.row, range.end_.col
  end
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
  local already = common_prefix(line:sub(start_col + 1, col), text)
  local stop = stop_at(text, already)
  local whole = stop >= #text
  -- Only a whole accept replaces what the range covers after the cursor.
  local to_row, to_col = row, col
  if whole and (end_row > row or (end_row == row and end_col > col)) then
    to_row, to_col = end_row, end_col
  end
  local from_col = start_col + already
  local lines = vim.split(text:sub(already + 1, stop), "\n", { plain = true })
  api.nvim_buf_set_text(bufnr, row, from_col, to_row, to_col, lines)
  api.nvim_win_set_cursor(win, {
    row + #lines,
    (#lines == 1 and from_col or 0) + #lines[#lines],
  })
  return stop, whole
end

--- Accept `item` up to the boundary `stop_at` finds, then tell the server: the item's own
--- command when that was all of it, else didPartiallyAcceptCompletion with how much of the
--- item's text is in the document. The native client asks again as the cursor moves (the
--- server answers the rest with a new item, so one item is never accepted in parts twice).
---@param bufnr integer
---@param item vim.lsp.inline_completion.Item
---@param stop_at fun(text: string, from: integer): integer
function M.accept_piece(bufnr, item, stop_at)
  local client = vim.lsp.get_client_by_id(item.client_id)
  if not client then
    return
  end
  local text = item.insert_text
  if type(text) ~= "string" then
    -- A snippet has no plain text to cut: accept all of it, as the native client does.
    vim.snippet.expand(text.value)
    if item.command then
      client:exec_cmd(item.command, { bufnr = bufnr })
    end
    return
  end
  local lsp_item = M.to_lsp_item(item, client)
  local stop, whole = insert_piece(bufnr, text, item.range, stop_at)
  if whole then
    if item.command then
      client:exec_cmd(item.command, { bufnr = bufnr })
    end
    return
  end
  accepted_at[bufnr] = vim.uv.now()
  client:notify("textDocument/didPartiallyAcceptCompletion", {
    item = lsp_item,
    acceptedLength = M.utf16_length(text:sub(1, stop)),
  })
end

--- True while the rest of a partly accepted suggestion is on its way to `bufnr`.
---@param bufnr integer
---@return boolean
function M.rest_pending(bufnr)
  local at = accepted_at[bufnr]
  return at ~= nil and not M.visible(bufnr) and vim.uv.now() - at < M.REST_WAIT_MS
end

--- Accept the next piece of the shown suggestion; false when none is shown.
---@param bufnr integer
---@param stop_at fun(text: string, from: integer): integer
---@return boolean
function M.accept_next(bufnr, stop_at)
  if not M.visible(bufnr) then
    return false
  end
  return vim.lsp.inline_completion.get({
    bufnr = bufnr,
    on_accept = function(item)
      M.accept_piece(bufnr, item, stop_at)
    end,
  })
end

--- Hide the shown suggestion and tell the server it was dismissed; false when none is shown.
---@param bufnr integer
---@return boolean
function M.dismiss(bufnr)
  if not M.visible(bufnr) then
    return false
  end
  return vim.lsp.inline_completion.get({
    bufnr = bufnr,
    on_accept = function(item)
      local client = vim.lsp.get_client_by_id(item.client_id)
      if client then
        client:notify("vetted/didDismissCompletion", { item = M.to_lsp_item(item, client) })
      end
    end,
  })
end

--- Forget what was reported for `bufnr` (its client detached).
---@param bufnr integer
function M.forget(bufnr)
  shown[bufnr] = nil
  accepted_at[bufnr] = nil
end

return M
