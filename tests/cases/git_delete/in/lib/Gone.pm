package Gone;
1;
