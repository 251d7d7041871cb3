--- vetted: inline code completions from a local model, checked before you see them.
---
--- Usage:
---   require("vetted").setup({
---     cmd = { "vetted", "serve" },          -- server command (optional)
---     model = "Qwen/Qwen2.5-Coder-1.5B",     -- sent as init_options.model (optional)
---     settings = { maxNewTokens = 64 },      -- init_options, camelCase as in the server config
---     keys = { accept = "<Tab>" },           -- insert-mode keys; false disables one
---     filetypes = { "python", "typescript" }, -- complete only these (default: all of M.filetypes)
---   })
---
--- Insert-mode keys (`keys`; the defaults are copilot.vim's). Each one does its own job when
--- no suggestion is shown, except that the accept keys wait for the rest of a suggestion
--- for up to a second after a partial accept:
---   accept       <Tab>        accept the whole suggestion
---   accept_word  <M-Right>    accept up to and including its next word
---   accept_line  <M-C-Right>  accept up to and including its next newline
---   next / prev  <M-]> <M-[>  show the next / previous alternative
---   dismiss      <C-]>        hide the suggestion; the server does not offer it there again
---   invoke       <M-\>        ask for a suggestion now
--- After a partial accept the rest of the suggestion shows again (the server answers it from
--- memory). The server hears what was shown, partly accepted and dismissed (suggestion.lua).
---
--- On Neovim 0.12+ suggestions are ghost text (`vim.lsp.inline_completion`); on older
--- versions the plugin falls back to the completion menu (`textDocument/completion`).

local M = {}

local api = vim.api
local suggestion = require("vetted.suggestion")

--- Server name, as in `vim.lsp.config` and `:checkhealth vim.lsp`.
M.name = "vetted"

--- Filetypes completed by default: every language the server has a syntax check for.
M.filetypes = {
  "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust",
  "java", "c", "cpp", "cs", "ruby", "php", "lua", "sh", "bash", "zsh", "json", "jsonc",
  "yaml", "toml", "html", "css",
}

--- LSP languageIds (VS Code's names, which the server knows) of the filetypes whose
--- Neovim name differs; any other filetype is sent as it is.
M.language_ids = {
  sh = "shellscript",
  bash = "shellscript",
  zsh = "shellscript",
  cs = "csharp",
}

--- The languageId the server gets for a buffer of `filetype`.
---@param _bufnr integer
---@param filetype string
---@return string
function M.language_id(_bufnr, filetype)
  return M.language_ids[filetype] or filetype
end

--- Defaults merged under the table given to `setup`.
M.defaults = {
  cmd = { "vetted", "serve" },
  filetypes = M.filetypes,
  root_markers = { ".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml" },
  model = nil,
  settings = {},
  keys = {
    accept = "<Tab>",
    accept_word = "<M-Right>",
    accept_line = "<M-C-Right>",
    next = "<M-]>",
    prev = "<M-[>",
    dismiss = "<C-]>",
    invoke = "<M-\\>",
  },
}

--- The options in effect after `setup`.
M.options = nil

--- Whether suggestions are on (see `:Vetted toggle`).
M.enabled = true

--- LSP `InlineCompletionTriggerKind.Invoked`.
local INVOKED = 1

--- True when this Neovim has native inline completion (0.12+).
local function has_native()
  return vim.lsp.inline_completion ~= nil
end

--- The vetted client attached to `bufnr` (any vetted client when `bufnr` is nil).
---@param bufnr? integer
---@return vim.lsp.Client?
function M.client(bufnr)
  return vim.lsp.get_clients({ name = M.name, bufnr = bufnr })[1]
end

--- Buffers the vetted clients are attached to.
---@return integer[]
local function attached_buffers()
  local buffers = {}
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    vim.list_extend(buffers, vim.lsp.get_buffers_by_client_id(client.id))
  end
  return buffers
end

--- True when a ghost-text suggestion is drawn in `bufnr`.
---@param bufnr? integer
---@return boolean
function M.visible(bufnr)
  return suggestion.visible(bufnr or 0)
end

--- Turn suggestions on or off in one buffer.
---@param bufnr integer
---@param enable boolean
local function enable_buffer(bufnr, enable)
  if has_native() then
    vim.lsp.inline_completion.enable(enable, { bufnr = bufnr })
    return
  end
  local client = M.client(bufnr)
  if vim.lsp.completion and vim.lsp.completion.enable and client then
    vim.lsp.completion.enable(enable, client.id, bufnr, { autotrigger = false })
  end
  vim.bo[bufnr].omnifunc = enable and "v:lua.vim.lsp.omnifunc" or ""
end

--- Accept the suggestion; returns the keys to feed (`accept` when nothing to accept).
---@param fallback string
---@return string
local function accept_or(fallback)
  if has_native() then
    if M.visible(0) and vim.lsp.inline_completion.get() then
      return ""
    elseif suggestion.rest_pending(api.nvim_get_current_buf()) then
      return "" -- the rest of a partly accepted suggestion is about to show
    end
  elseif vim.fn.pumvisible() == 1 then
    return "<C-y>"
  end
  return fallback
end

--- Accept the next word (`unit` "word") or line ("line") of the suggestion; returns the
--- keys to feed (`fallback` when nothing is shown).
---@param unit "word"|"line"
---@param fallback string
---@return string
local function accept_part_or(unit, fallback)
  if not has_native() then
    return fallback
  end
  local bufnr = api.nvim_get_current_buf()
  local stop_at = unit == "word" and suggestion.next_word or suggestion.next_line
  if suggestion.accept_next(bufnr, stop_at) or suggestion.rest_pending(bufnr) then
    return ""
  end
  return fallback
end

--- Dismiss the suggestion; returns the keys to feed (`fallback` when nothing is shown).
---@param fallback string
---@return string
local function dismiss_or(fallback)
  if has_native() then
    return suggestion.dismiss(api.nvim_get_current_buf()) and "" or fallback
  end
  return vim.fn.pumvisible() == 1 and "<C-e>" or fallback
end

--- Show the next (`count` > 0) or previous (`count` < 0) alternative.
---@param count integer
---@return string keys to feed (completion-menu fallback only)
function M.select(count)
  if has_native() then
    vim.lsp.inline_completion.select({ count = count })
    suggestion.report_shown(api.nvim_get_current_buf())
    return ""
  end
  return count > 0 and "<C-n>" or "<C-p>"
end

--- Ask the server now (triggerKind 1, Invoked) and show its suggestions.
---@param bufnr? integer
function M.invoke(bufnr)
  bufnr = bufnr == nil and api.nvim_get_current_buf() or bufnr
  local client = M.client(bufnr)
  if not client then
    return
  end
  if not has_native() then
    if vim.lsp.completion and vim.lsp.completion.get then
      vim.lsp.completion.get()
    else
      api.nvim_feedkeys(vim.keycode("<C-x><C-o>"), "n", false)
    end
    return
  end
  -- This Neovim has no public "invoke now"; request directly and hand the answer to the
  -- buffer's native completor so select/get keep working on it.
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = INVOKED }
  client:request("textDocument/inlineCompletion", params, function(err, result, ctx)
    local completor = suggestion.completor(bufnr)
    if completor and completor.client_state[ctx.client_id] then
      completor:handler(err, result, ctx)
    elseif err then
      vim.notify("vetted: " .. tostring(err.message), vim.log.levels.ERROR)
    end
  end, bufnr)
end

--- Request `vetted/status`; `cb(message, result, err)` gets e.g. "vetted: ready, model replay:/x".
---@param cb? fun(message: string, result: table?, err: table?)
function M.status(cb)
  cb = cb or function(message)
    vim.notify(message)
  end
  local client = M.client()
  if not client then
    cb("vetted: not running", nil, nil)
    return
  end
  client:request("vetted/status", vim.empty_dict(), function(err, result)
    if err or not result then
      cb("vetted: status failed: " .. tostring(err and err.message), result, err)
      return
    end
    local message = ("vetted: %s, model %s"):format(result.state, result.model)
    if result.error and result.error ~= "" then
      message = message .. " (" .. result.error .. ")"
    end
    cb(message, result, nil)
  end)
end

--- One line for people from the `vetted.generateTests` result.
---@param result table
---@return string
local function tests_summary(result)
  local count = #(result.delivered or {})
  local message = ("vetted: %d test%s for %s in %s, coverage %s%% -> %s%%"):format(
    count,
    count == 1 and "" or "s",
    result["function"],
    result.testFile,
    tostring(result.coverageBefore.percent),
    tostring(result.coverageAfter.percent)
  )
  if #(result.bugs or {}) > 0 then
    message = message .. ("; %d probable bug(s): %s"):format(#result.bugs, result.bugs[1].example)
  end
  return message
end

--- Generate unit tests for the function under the cursor (`vetted.generateTests`).
--- The server writes the tests with `workspace/applyEdit`; `cb(message, result, err)`.
---@param bufnr? integer
---@param cb? fun(message: string, result: table?, err: table?)
function M.generate_tests(bufnr, cb)
  bufnr = bufnr == nil and api.nvim_get_current_buf() or bufnr
  cb = cb or function(message, _, err)
    vim.notify(message, err and vim.log.levels.ERROR or vim.log.levels.INFO)
  end
  local client = M.client(bufnr)
  if not client then
    cb("vetted: not running", nil, nil)
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local arguments = { vim.uri_from_bufnr(bufnr), params.position }
  vim.notify("vetted: generating tests (progress in :lua vim.print(vim.lsp.status()))")
  client:request("workspace/executeCommand", {
    command = "vetted.generateTests",
    arguments = arguments,
  }, function(err, result)
    if err or not result then
      cb("vetted: test generation failed: " .. tostring(err and err.message), result, err)
    elseif result.cancelled then
      cb("vetted: test generation cancelled; nothing was written", result, nil)
    else
      cb(tests_summary(result), result, nil)
    end
  end, bufnr)
end

--- Flip suggestions on or off in every vetted buffer; returns the new state.
---@return boolean
function M.toggle()
  M.enabled = not M.enabled
  for _, bufnr in ipairs(attached_buffers()) do
    enable_buffer(bufnr, M.enabled)
  end
  vim.notify("vetted: suggestions " .. (M.enabled and "on" or "off"))
  return M.enabled
end

--- Buffer-local insert-mode maps (each key may be set to false in `keys`).
---@param bufnr integer
local function map_keys(bufnr)
  local keys = M.options.keys
  local function map(lhs, rhs, desc)
    if lhs then
      vim.keymap.set("i", lhs, rhs, { buffer = bufnr, expr = true, desc = "vetted: " .. desc })
    end
  end
  map(keys.accept, function()
    return accept_or(keys.accept)
  end, "accept suggestion")
  map(keys.accept_word, function()
    return accept_part_or("word", keys.accept_word)
  end, "accept next word of suggestion")
  map(keys.accept_line, function()
    return accept_part_or("line", keys.accept_line)
  end, "accept next line of suggestion")
  map(keys.dismiss, function()
    return dismiss_or(keys.dismiss)
  end, "dismiss suggestion")
  map(keys.next, function()
    return M.select(1)
  end, "next alternative")
  map(keys.prev, function()
    return M.select(-1)
  end, "previous alternative")
  map(keys.invoke, function()
    M.invoke()
    return ""
  end, "suggest now")
end

local SUBCOMMANDS = {
  status = function()
    M.status()
  end,
  toggle = function()
    M.toggle()
  end,
  tests = function()
    M.generate_tests()
  end,
}

--- Register the server, the attach hook and `:Vetted`.
---@param opts? table
function M.setup(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  if opts and opts.filetypes then
    M.options.filetypes = opts.filetypes -- a list replaces the default, it does not merge
  end
  local settings = vim.deepcopy(M.options.settings)
  if M.options.model then
    settings.model = M.options.model
  end
  if vim.tbl_isempty(settings) then
    settings = vim.empty_dict() -- an empty Lua table would be sent as a JSON list
  end

  vim.lsp.config(M.name, {
    cmd = M.options.cmd,
    filetypes = M.options.filetypes,
    get_language_id = M.language_id,
    root_markers = M.options.root_markers,
    init_options = settings,
  })
  vim.lsp.enable(M.name)

  local group = api.nvim_create_augroup("vetted", { clear = true })
  api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == M.name then
        enable_buffer(args.buf, M.enabled)
        map_keys(args.buf)
      end
    end,
  })
  api.nvim_create_autocmd("LspDetach", {
    group = group,
    callback = function(args)
      suggestion.forget(args.buf)
    end,
  })
  -- An answer is drawn by the native handler, which runs after this autocmd: report the
  -- item on screen once that has happened.
  api.nvim_create_autocmd("LspRequest", {
    group = group,
    callback = function(args)
      local request = args.data.request
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if request.type == "complete" and request.method == "textDocument/inlineCompletion"
        and client and client.name == M.name and has_native() then
        vim.schedule(function()
          if api.nvim_buf_is_valid(request.bufnr) then
            suggestion.report_shown(request.bufnr)
          end
        end)
      end
    end,
  })

  api.nvim_create_user_command("Vetted", function(cmd)
    local run = SUBCOMMANDS[cmd.fargs[1] or "status"]
    if not run then
      vim.notify("vetted: unknown subcommand " .. cmd.fargs[1], vim.log.levels.ERROR)
      return
    end
    run()
  end, {
    nargs = "?",
    complete = function()
      return vim.tbl_keys(SUBCOMMANDS)
    end,
    desc = "vetted: status | toggle | tests",
  })
end

return M
