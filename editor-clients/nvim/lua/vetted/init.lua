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
--- On Neovim 0.12+ suggestions are ghost text (`vim.lsp.inline_completion`); on older
--- versions the plugin falls back to the completion menu (`textDocument/completion`).

local M = {}

local api = vim.api

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
    next = "<M-]>",
    prev = "<M-[>",
    invoke = "<M-\\>",
  },
}

--- The options in effect after `setup`.
M.options = nil

--- Whether suggestions are on (see `:Vetted toggle`).
M.enabled = true

--- Extmark namespace the native client draws ghost text in.
local GHOST_NS = api.nvim_create_namespace("nvim.lsp.inline_completion")

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
  return #api.nvim_buf_get_extmarks(bufnr or 0, GHOST_NS, 0, -1, { limit = 1 }) > 0
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
    end
  elseif vim.fn.pumvisible() == 1 then
    return "<C-y>"
  end
  return fallback
end

--- Show the next (`count` > 0) or previous (`count` < 0) alternative.
---@param count integer
---@return string keys to feed (completion-menu fallback only)
function M.select(count)
  if has_native() then
    vim.lsp.inline_completion.select({ count = count })
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
    local ok, capability = pcall(require, "vim.lsp._capability")
    local completor = ok and capability.all.inline_completion
      and capability.all.inline_completion.active[bufnr]
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

  api.nvim_create_autocmd("LspAttach", {
    group = api.nvim_create_augroup("vetted", { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == M.name then
        enable_buffer(args.buf, M.enabled)
        map_keys(args.buf)
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
