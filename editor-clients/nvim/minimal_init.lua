-- Minimal init for trying vetted: `nvim -u editor-clients/nvim/minimal_init.lua file.py`.
-- VETTED_CMD:   server command as a JSON list, e.g. '["vetted", "serve", "-v"]'
-- VETTED_MODEL: model spec sent as init_options.model, e.g. 'replay:/tmp/outputs.jsonl'

local here = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h")
vim.opt.runtimepath:prepend(here)

local opts = {}
local cmd = os.getenv("VETTED_CMD")
if cmd and cmd ~= "" then
  opts.cmd = vim.json.decode(cmd)
end
local model = os.getenv("VETTED_MODEL")
if model and model ~= "" then
  opts.model = model
end

require("vetted").setup(opts)
