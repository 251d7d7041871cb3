"""Unit-test generation for a selected function.

`generation`: the loop that asks the model for tests and keeps those that pass alone and
twice and add coverage; `testfile`: where and how they are written into the project's
test files.
"""
