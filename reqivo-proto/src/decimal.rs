//! Decimal digits of an integer without `fmt`: header values and Host ports are written on every request.

/// The decimal digits of `n`, written into the end of `buf`.
pub(crate) fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = n;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits() {
        for n in [0, 7, 10, 65535, 1_000_000_007, u64::MAX] {
            assert_eq!(super::decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }
}
