"""Offline jobs over the completion pipeline, run from the command line.

`batch` (JSONL requests in, JSONL completions out, resumable), `evaluate` (benchmark suites
scored with their hidden tests), `rank_tasks` (`vetted rank`: rank given candidates with the
validators and generated tests), `train_data` and `train_lora` (a LoRA adapter from the
suggestions a user accepted).
"""
