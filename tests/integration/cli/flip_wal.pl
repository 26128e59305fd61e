#!/usr/bin/perl
#  flip_wal.pl FILE MARKER: flip one bit in the last byte of MARKER inside a
#  LevelDB write-ahead log and fix that record's CRC, so LevelDB replays the
#  changed value as if it had been written that way. This is how the tests
#  make "one byte flipped in a stored value" without a LevelDB writer tool:
#  only abbey's own hash chain can notice it.
#  WAL format (leveldb doc/log_format.md): 32 KiB blocks of records,
#  header = masked crc32c (4, LE) | length (2, LE) | type (1).
use strict;
use warnings;

my ($file, $marker) = @ARGV;
die "usage: $0 FILE MARKER\n" unless defined $marker;
open (my $fh, '+<:raw', $file) or die "$file: $!\n";
local $/;
my $buf = <$fh>;
my $at = index ($buf, $marker);
die "$file: marker '$marker' not found\n" if $at < 0;
my $flip = $at + length ($marker) - 1;

my @table;
for my $i (0 .. 255) {
    my $c = $i;
    $c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8;
    $table[$i] = $c;
}
sub crc32c {
    my $crc = 0xFFFFFFFF;
    $crc = $table[($crc ^ $_) & 0xFF] ^ ($crc >> 8) for unpack ('C*', $_[0]);
    return $crc ^ 0xFFFFFFFF;
}

my $pos = 0;
while ($pos + 7 <= length $buf) {
    my $left = 32768 - ($pos % 32768);
    if ($left < 7) { $pos += $left; next; }
    my ($crc, $len, $type) = unpack ('VvC', substr ($buf, $pos, 7));
    my $start = $pos + 7;
    if ($flip >= $start && $flip < $start + $len) {
        substr ($buf, $flip, 1) = chr (ord (substr ($buf, $flip, 1)) ^ 1);
        my $c = crc32c (chr ($type) . substr ($buf, $start, $len));
        my $masked = ((($c >> 15) | ($c << 17)) + 0xa282ead8) & 0xFFFFFFFF;
        substr ($buf, $pos, 4) = pack ('V', $masked);
        seek ($fh, 0, 0);
        print $fh $buf;
        close ($fh) or die "$file: $!\n";
        exit 0;
    }
    $pos = $start + $len;
}
die "$file: marker outside every record\n";
