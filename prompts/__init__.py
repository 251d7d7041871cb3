"""Typed prompt templates: Qwen2.5-Coder fill-in-the-middle at file and repository level."""
