"""Model runtime and the completion pipeline: prompt, generate, post-process, validate, rank."""
