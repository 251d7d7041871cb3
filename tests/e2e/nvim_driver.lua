-- Headless driver for tests/e2e/test_neovim.py: `nvim --headless -u nvim_driver.lua`.
-- Env: VETTED_INIT (minimal_init.lua), VETTED_FILE (the file to open, of any language),
-- VETTED_CURSOR ("row,col", 1-based row, 0-based byte col), VETTED_RESULT (JSON written here).
-- Every step is a callback so insert mode and LSP replies run on the real event loop.

local result = { steps = {} }
local RESULT_PATH = assert(os.getenv("VETTED_RESULT"), "VETTED_RESULT is not set")
local GHOST_NS = vim.api.nvim_create_namespace("nvim.lsp.inline_completion")
local POLL_MS = 50

local function finish(code)
  result.messages = vim.fn.execute("messages")
  local file = assert(io.open(RESULT_PATH, "w"))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd(code == 0 and "qa!" or "cq!")
end

local function step(name)
  table.insert(result.steps, name)
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

local function run()
  vim.cmd.source(assert(os.getenv("VETTED_INIT")))
  local vetted = require("vetted")
  vim.cmd.edit(assert(os.getenv("VETTED_FILE")))
  local row, col = (assert(os.getenv("VETTED_CURSOR"))):match("(%d+),(%d+)")
  row, col = tonumber(row), tonumber(col)
  result.nvim = tostring(vim.version())
  result.native = vim.lsp.inline_completion ~= nil

  local ready = false
  local polling = false
  local after_ready = os.getenv("VETTED_MODE") == "tests" and function()
    -- Generate tests for the function under the cursor; the server writes them with
    -- workspace/applyEdit, which Neovim applies; the summary arrives as a notification.
    step("ready")
    vim.api.nvim_win_set_cursor(0, { row, col })
    local notify = vim.notify
    vim.notify = function(message, ...)
      if tostring(message):find("tests for") or tostring(message):find("failed") then
        result.tests = message
      end
      return notify(message, ...)
    end
    vim.cmd("Vetted tests")
    wait_for(function()
      return result.tests
    end, function()
      step("tests")
      local path = os.getenv("VETTED_TEST_FILE")
      vim.defer_fn(function()
        local buffer = path and vim.fn.bufnr(path) or -1
        if buffer ~= -1 then
          result.test_buffer = table.concat(vim.api.nvim_buf_get_lines(buffer, 0, -1, false), "\n")
        end
        finish(0)
      end, 300) -- the edit is applied right after the command's answer
    end)
  end
  wait_for(function()
    if vetted.client(0) and not polling and not ready then
      polling = true
      vetted.status(function(_, status)
        polling = false
        ready = status ~= nil and status.state == "ready"
      end)
    end
    return ready
  end, after_ready or function()
    step("ready")
    result.filetype = vim.bo.filetype
    result.language_id = vetted.client(0).get_language_id(0, vim.bo.filetype)
    vim.api.nvim_win_set_cursor(0, { row, col })
    vim.cmd("startinsert!")
    wait_for(ghost_text, function(first)
      step("ghost")
      result.ghost = first
      result.cursor = vim.api.nvim_win_get_cursor(0)
      vim.lsp.inline_completion.select({ count = 1 })
      result.ghost_next = ghost_text()
      local before = vim.api.nvim_buf_get_lines(0, row - 1, row, true)[1]
      result.accepted = vim.lsp.inline_completion.get()
      wait_for(function()
        local line = vim.api.nvim_buf_get_lines(0, row - 1, row, true)[1]
        return line ~= before and line
      end, function(line)
        step("accepted")
        result.line = line
        local notify = vim.notify
        vim.notify = function(message, ...)
          result.status = message
          return notify(message, ...)
        end
        vim.cmd("Vetted status")
        wait_for(function()
          return result.status
        end, function()
          step("status")
          vim.cmd("stopinsert")
          finish(0)
        end)
      end)
    end)
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
