package New;
1;
__END__
