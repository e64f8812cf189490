bad
code
