<?php
// Stream → packets for the pcntl echo-server (FRM-1..9), written in PHP because pcntl has no
// framing of its own. A decoder keeps its buffer; feed() returns the complete packets and, when
// the stream is malformed, the reason the connection must be closed.
declare(strict_types=1);

interface Decoder
{
    /** @return array{0: list<string>, 1: ?string} packets, close reason */
    public function feed(string $data): array;
}

final class RawDecoder implements Decoder
{
    public function feed(string $data): array
    {
        return [[$data], null];
    }
}

final class LengthDecoder implements Decoder
{
    // FRM-2: pack code → width; PHP's unpack() knows every one of these codes.
    public const WIDTHS = ['c' => 1, 'C' => 1, 's' => 2, 'S' => 2, 'n' => 2, 'v' => 2, 'l' => 4, 'L' => 4,
                           'N' => 4, 'V' => 4, 'q' => 8, 'Q' => 8, 'J' => 8, 'P' => 8];
    private string $buffer = '';

    public function __construct(private string $type, private int $lengthOffset, private int $bodyOffset,
                                private int $maxLength)
    {
    }

    public function feed(string $data): array
    {
        $this->buffer .= $data;
        $packets = [];
        $header = $this->lengthOffset + self::WIDTHS[$this->type];
        while (strlen($this->buffer) >= $header) {
            $value = unpack($this->type, $this->buffer, $this->lengthOffset)[1];
            if ($value < 0) { // signed codes, and 64-bit values ≥ 2^63 (PHP ints are signed)
                return [$packets, "negative length $value in header"];
            }
            if ($value === 0 && $this->bodyOffset === 0) {
                return [$packets, 'length 0 with body_offset 0'];
            }
            $size = $this->bodyOffset + $value;
            if ($size > $this->maxLength) {
                return [$packets, "packet length $size exceeds max_length {$this->maxLength}"];
            }
            if (strlen($this->buffer) < $size) {
                break;
            }
            $packets[] = substr($this->buffer, 0, $size);
            $this->buffer = substr($this->buffer, $size);
        }
        return [$packets, null];
    }
}

final class EofDecoder implements Decoder
{
    private string $buffer = '';

    public function __construct(private string $eof, private int $maxLength, private bool $split)
    {
    }

    public function feed(string $data): array
    {
        $this->buffer .= $data;
        $packets = [];
        if ($this->split) {
            while (($at = strpos($this->buffer, $this->eof)) !== false) {
                $end = $at + strlen($this->eof);
                if ($end > $this->maxLength) {
                    return [$packets, "packet of $end bytes exceeds max_length {$this->maxLength}"];
                }
                $packets[] = substr($this->buffer, 0, $end);
                $this->buffer = substr($this->buffer, $end);
            }
        } elseif (str_ends_with($this->buffer, $this->eof) && strlen($this->buffer) <= $this->maxLength) {
            $packets[] = $this->buffer; // FRM-7: the whole buffer, several EOFs included
            $this->buffer = '';
        }
        if (strlen($this->buffer) >= $this->maxLength) {
            return [$packets, "no EOF within max_length {$this->maxLength} bytes"];
        }
        return [$packets, null];
    }
}

// Parses a framing SPEC (SPEC IUT) into a decoder factory; returns an error message on a settings
// error (FRM-2, FRM-5: checked at configuration time, never at run time).
function decoder_factory(string $spec): callable|string
{
    $parts = explode(':', $spec);
    $kind = $parts[0];
    if ($kind === 'none' && count($parts) === 1) {
        return static fn () => new RawDecoder();
    }
    if ($kind === 'length' && count($parts) === 5) {
        [, $type, $lengthOffset, $bodyOffset, $max] = $parts;
        if (!isset(LengthDecoder::WIDTHS[$type])) {
            return "length_type '$type' is not a supported pack code (c C s S n v l L N V q Q J P)";
        }
        foreach ([$lengthOffset, $bodyOffset, $max] as $n) {
            if (preg_match('/^\d+$/', $n) !== 1) {
                return "'$n' is not a non-negative integer";
            }
        }
        [$lengthOffset, $bodyOffset, $max] = [(int) $lengthOffset, (int) $bodyOffset, (int) $max];
        if ($lengthOffset > 65535 || $bodyOffset > 65535) {
            return 'length_offset and body_offset must be 0..65535';
        }
        if ($max < $bodyOffset || $max < 1) {
            return "max_length $max is below body_offset $bodyOffset";
        }
        return static fn () => new LengthDecoder($type, $lengthOffset, $bodyOffset, $max);
    }
    if (($kind === 'eof-split' || $kind === 'eof-check') && count($parts) === 3) {
        [, $hex, $max] = $parts;
        $eof = (strlen($hex) % 2 === 0 && ctype_xdigit($hex)) ? hex2bin($hex) : false;
        if ($eof === false || strlen($eof) < 1 || strlen($eof) > 8) {
            return "package_eof '$hex' must be 1..8 bytes in hex";
        }
        if (preg_match('/^\d+$/', $max) !== 1 || (int) $max < 1) {
            return "max_length '$max' must be a positive integer";
        }
        $split = $kind === 'eof-split';
        return static fn () => new EofDecoder($eof, (int) $max, $split);
    }
    return "unknown framing '$spec' (none | length:TYPE:LOFF:BOFF:MAX | eof-split:HEX:MAX | eof-check:HEX:MAX)";
}
