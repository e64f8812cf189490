ctx 1
ctx 2
ctx 3
ctx 4
ctx 5
ctx 6
ctx 7 drifted
ctx 8
ctx 9
ctx 10 patched
ctx 11
ctx 12
ctx 13
ctx 14
ctx 15
ctx 16
ctx 17
ctx 18
ctx 19
ctx 20
