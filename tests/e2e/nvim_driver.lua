-- Headless driver for tests/e2e/test_neovim.py: `nvim --headless -u nvim_driver.lua`.
-- Env: VETTED_INIT (minimal_init.lua), VETTED_FILE (the file to open, of any language),
-- VETTED_CURSOR ("row,col", 1-based row, 0-based byte col, set once the server is ready),
-- VETTED_STEPS (JSON list of steps, below), VETTED_RESULT (JSON written here).
--
-- Steps, run in order once the server is ready, each a table with one of:
--   keys = "A<M-Right>"   pressed keys (nvim_input), then wait until editor and server are idle
--                         (with pause = ms: wait that long instead)
--   snap = "name"         record buffer, cursor, mode and ghost text as snaps[name]
--   status = "name"       record the server's `vetted/status` answer as status[name]
--   message = "text"      wait for a vim.notify message containing `text`
--   read = "path"         record the lines of the buffer of `path` as files[path]
-- Besides, `sent` lists what the plugin told the server about suggestions (notifications and
-- executeCommand), `notified` the vim.notify messages. Every wait is a callback so insert
-- mode and LSP replies run on the real event loop.

local result = { steps = {}, snaps = {}, status = {}, files = {}, sent = {}, notified = {} }
local RESULT_PATH = assert(os.getenv("VETTED_RESULT"), "VETTED_RESULT is not set")
local GHOST_NS = vim.api.nvim_create_namespace("nvim.lsp.inline_completion")
local POLL_MS = 50
-- Longer than the native client's 200 ms debounce, so a request it is about to send is seen.
local QUIET_MS = 400

local function finish(code)
  result.messages = vim.fn.execute("messages")
  local file = assert(io.open(RESULT_PATH, "w"))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd(code == 0 and "qa!" or "cq!")
end

local started = vim.uv.now()
local function step(name)
  table.insert(result.steps, ("%s @%dms"):format(name, vim.uv.now() - started))
end

-- Hard timeout: write what we have and exit non-zero.
vim.defer_fn(function()
  result.error = "timed out after step " .. tostring(result.steps[#result.steps])
  finish(1)
end, 45000)

-- Poll `cond` every POLL_MS until it returns a truthy value, then call `next` with it.
local function wait_for(cond, next)
  local value = cond()
  if value then
    next(value)
  else
    vim.defer_fn(function()
      wait_for(cond, next)
    end, POLL_MS)
  end
end

-- The ghost text drawn by vim.lsp.inline_completion (hint chunks such as " (2/2)" left out).
local function ghost_text()
  local marks = vim.api.nvim_buf_get_extmarks(0, GHOST_NS, 0, -1, { details = true })
  if #marks == 0 then
    return nil
  end
  local details = marks[1][4]
  local lines = {}
  local function join(chunks)
    local parts = {}
    for _, chunk in ipairs(chunks) do
      if chunk[2] == "ComplHint" then
        table.insert(parts, chunk[1])
      end
    end
    return table.concat(parts)
  end
  table.insert(lines, join(details.virt_text or {}))
  for _, virt_line in ipairs(details.virt_lines or {}) do
    table.insert(lines, join(virt_line))
  end
  return table.concat(lines, "\n")
end

-- Record what the plugin sends about suggestions, on the client object itself.
local function record_sent(client)
  local notify, request = client.notify, client.request
  client.notify = function(self, method, params)
    if method:find("Completion$") then
      table.insert(result.sent, { method = method, params = params })
    end
    return notify(self, method, params)
  end
  client.request = function(self, method, params, ...)
    if method == "workspace/executeCommand" then
      table.insert(result.sent, { method = method, params = params })
    end
    return request(self, method, params, ...)
  end
end

-- Idle: nothing typed, moved or changed for QUIET_MS and no request of the client pending,
-- twice in a row (a reply's handler runs one loop after the request stops being pending).
local last_activity = vim.uv.now()
local function idle(client)
  local busy = vim.uv.now() - last_activity < QUIET_MS
  for _, request in pairs(client.requests) do
    busy = busy or request.type == "pending"
  end
  return not busy
end
local function wait_idle(client, next)
  wait_for(function()
    return idle(client)
  end, function()
    vim.defer_fn(function()
      if idle(client) then
        next()
      else
        wait_idle(client, next)
      end
    end, POLL_MS)
  end)
end

local function snapshot()
  return {
    lines = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, true), "\n"),
    cursor = vim.api.nvim_win_get_cursor(0),
    mode = vim.api.nvim_get_mode().mode,
    ghost = ghost_text() or vim.NIL,
    sent = #result.sent,
  }
end

local function run_steps(vetted, client, steps, index)
  local s = steps[index]
  if not s then
    finish(0)
    return
  end
  local function next()
    run_steps(vetted, client, steps, index + 1)
  end
  if s.keys then
    step("keys " .. s.keys)
    last_activity = vim.uv.now()
    vim.api.nvim_input(s.keys)
    if s.pause then
      vim.defer_fn(next, s.pause)
    else
      wait_idle(client, next)
    end
  elseif s.snap then
    step("snap " .. s.snap)
    result.snaps[s.snap] = snapshot()
    next()
  elseif s.status then
    step("status " .. s.status)
    vetted.status(function(_, status)
      result.status[s.status] = status or vim.NIL
      next()
    end)
  elseif s.message then
    step("message " .. s.message)
    wait_for(function()
      for _, message in ipairs(result.notified) do
        if message:find(s.message, 1, true) then
          return true
        end
      end
      return false
    end, next)
  elseif s.read then
    step("read " .. s.read)
    local buffer = vim.fn.bufnr(s.read)
    result.files[s.read] = buffer ~= -1
        and table.concat(vim.api.nvim_buf_get_lines(buffer, 0, -1, false), "\n")
      or vim.NIL
    next()
  else
    error("unknown step " .. vim.inspect(s))
  end
end

local function run()
  vim.cmd.source(assert(os.getenv("VETTED_INIT")))
  local vetted = require("vetted")
  local notify = vim.notify
  vim.notify = function(message, ...)
    table.insert(result.notified, tostring(message))
    return notify(message, ...)
  end
  vim.api.nvim_create_autocmd(
    { "CursorMoved", "CursorMovedI", "TextChanged", "TextChangedI", "ModeChanged" },
    {
      callback = function()
        last_activity = vim.uv.now()
      end,
    }
  )
  vim.cmd.edit(assert(os.getenv("VETTED_FILE")))
  local row, col = (assert(os.getenv("VETTED_CURSOR"))):match("(%d+),(%d+)")
  local steps = vim.json.decode((assert(os.getenv("VETTED_STEPS"), "VETTED_STEPS is not set")))
  result.nvim = tostring(vim.version())
  result.native = vim.lsp.inline_completion ~= nil

  local ready = false
  local polling = false
  wait_for(function()
    if vetted.client(0) and not polling and not ready then
      polling = true
      vetted.status(function(_, status)
        polling = false
        ready = status ~= nil and status.state == "ready"
      end)
    end
    return ready
  end, function()
    step("ready")
    local client = vetted.client(0)
    record_sent(client)
    result.filetype = vim.bo.filetype
    result.language_id = client.get_language_id(0, vim.bo.filetype)
    vim.api.nvim_win_set_cursor(0, { tonumber(row), tonumber(col) })
    run_steps(vetted, client, steps, 1)
  end)
end

vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  nested = true, -- so :edit fires FileType, which starts the server
  callback = function()
    local ok, err = pcall(run)
    if not ok then
      result.error = tostring(err)
      finish(1)
    end
  end,
})
