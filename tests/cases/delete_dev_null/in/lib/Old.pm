package Old;
1;
