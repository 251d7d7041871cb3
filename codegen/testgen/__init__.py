"""Unit-test generation for a selected function.

`generation`: the loop that asks the model for tests and keeps those that pass alone and
twice and add coverage; `existing`: the tests the function already has, run with their own
file's imports and setup, and recognised when the model offers them again; `testfile`:
where the tests go and how they import the code; `writing`: the edits that put them there
(imports on top, tests at the end).
"""
