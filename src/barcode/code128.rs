//! Code 128 (ISO/IEC 15417): data → symbol values → modules.
//!
//! A symbol is a start character (A, B or C), data symbols, a modulo-103 check symbol and the stop pattern.
//! Each symbol is 11 modules of three bars and three spaces (the stop is 13: it ends with a 2-module bar).
//! Code set A holds ASCII 0–95 (control characters and upper case), B holds ASCII 32–127, C holds digit pairs.
//! The encoder picks code sets, switches (`CODE A/B/C`) and `SHIFT`s with a dynamic program, so the symbol is the
//! shortest possible: on a 100 mm label a shorter symbol means wider modules and a surer scan.

use super::BarcodeError;

/// Quiet zone each side of the symbol, in modules (ISO/IEC 15417 asks for at least 10). The layout keeps it clear.
pub const QUIET_MODULES: u32 = 10;

/// Symbol values of the characters the encoder emits.
pub const START_A: u8 = 103;
pub const START_B: u8 = 104;
pub const START_C: u8 = 105;
pub const STOP: u8 = 106;
/// In A or B: the next character comes from the other of A/B.
pub const SHIFT: u8 = 98;
/// Switch to code set C (from A or B), B (from A or C), A (from B or C).
pub const CODE_C: u8 = 99;
pub const CODE_B: u8 = 100;
pub const CODE_A: u8 = 101;

/// Bar/space widths in modules of symbol values 0–105, bar first (ISO/IEC 15417, table 1).
const PATTERNS: [[u8; 6]; 106] = [
    [2, 1, 2, 2, 2, 2], // 0
    [2, 2, 2, 1, 2, 2],
    [2, 2, 2, 2, 2, 1],
    [1, 2, 1, 2, 2, 3],
    [1, 2, 1, 3, 2, 2],
    [1, 3, 1, 2, 2, 2],
    [1, 2, 2, 2, 1, 3],
    [1, 2, 2, 3, 1, 2],
    [1, 3, 2, 2, 1, 2],
    [2, 2, 1, 2, 1, 3],
    [2, 2, 1, 3, 1, 2], // 10
    [2, 3, 1, 2, 1, 2],
    [1, 1, 2, 2, 3, 2],
    [1, 2, 2, 1, 3, 2],
    [1, 2, 2, 2, 3, 1],
    [1, 1, 3, 2, 2, 2],
    [1, 2, 3, 1, 2, 2],
    [1, 2, 3, 2, 2, 1],
    [2, 2, 3, 2, 1, 1],
    [2, 2, 1, 1, 3, 2],
    [2, 2, 1, 2, 3, 1], // 20
    [2, 1, 3, 2, 1, 2],
    [2, 2, 3, 1, 1, 2],
    [3, 1, 2, 1, 3, 1],
    [3, 1, 1, 2, 2, 2],
    [3, 2, 1, 1, 2, 2],
    [3, 2, 1, 2, 2, 1],
    [3, 1, 2, 2, 1, 2],
    [3, 2, 2, 1, 1, 2],
    [3, 2, 2, 2, 1, 1],
    [2, 1, 2, 1, 2, 3], // 30
    [2, 1, 2, 3, 2, 1],
    [2, 3, 2, 1, 2, 1],
    [1, 1, 1, 3, 2, 3],
    [1, 3, 1, 1, 2, 3],
    [1, 3, 1, 3, 2, 1],
    [1, 1, 2, 3, 1, 3],
    [1, 3, 2, 1, 1, 3],
    [1, 3, 2, 3, 1, 1],
    [2, 1, 1, 3, 1, 3],
    [2, 3, 1, 1, 1, 3], // 40
    [2, 3, 1, 3, 1, 1],
    [1, 1, 2, 1, 3, 3],
    [1, 1, 2, 3, 3, 1],
    [1, 3, 2, 1, 3, 1],
    [1, 1, 3, 1, 2, 3],
    [1, 1, 3, 3, 2, 1],
    [1, 3, 3, 1, 2, 1],
    [3, 1, 3, 1, 2, 1],
    [2, 1, 1, 3, 3, 1],
    [2, 3, 1, 1, 3, 1], // 50
    [2, 1, 3, 1, 1, 3],
    [2, 1, 3, 3, 1, 1],
    [2, 1, 3, 1, 3, 1],
    [3, 1, 1, 1, 2, 3],
    [3, 1, 1, 3, 2, 1],
    [3, 3, 1, 1, 2, 1],
    [3, 1, 2, 1, 1, 3],
    [3, 1, 2, 3, 1, 1],
    [3, 3, 2, 1, 1, 1],
    [3, 1, 4, 1, 1, 1], // 60
    [2, 2, 1, 4, 1, 1],
    [4, 3, 1, 1, 1, 1],
    [1, 1, 1, 2, 2, 4],
    [1, 1, 1, 4, 2, 2],
    [1, 2, 1, 1, 2, 4],
    [1, 2, 1, 4, 2, 1],
    [1, 4, 1, 1, 2, 2],
    [1, 4, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 4],
    [1, 1, 2, 4, 1, 2], // 70
    [1, 2, 2, 1, 1, 4],
    [1, 2, 2, 4, 1, 1],
    [1, 4, 2, 1, 1, 2],
    [1, 4, 2, 2, 1, 1],
    [2, 4, 1, 2, 1, 1],
    [2, 2, 1, 1, 1, 4],
    [4, 1, 3, 1, 1, 1],
    [2, 4, 1, 1, 1, 2],
    [1, 3, 4, 1, 1, 1],
    [1, 1, 1, 2, 4, 2], // 80
    [1, 2, 1, 1, 4, 2],
    [1, 2, 1, 2, 4, 1],
    [1, 1, 4, 2, 1, 2],
    [1, 2, 4, 1, 1, 2],
    [1, 2, 4, 2, 1, 1],
    [4, 1, 1, 2, 1, 2],
    [4, 2, 1, 1, 1, 2],
    [4, 2, 1, 2, 1, 1],
    [2, 1, 2, 1, 4, 1],
    [2, 1, 4, 1, 2, 1], // 90
    [4, 1, 2, 1, 2, 1],
    [1, 1, 1, 1, 4, 3],
    [1, 1, 1, 3, 4, 1],
    [1, 3, 1, 1, 4, 1],
    [1, 1, 4, 1, 1, 3],
    [1, 1, 4, 3, 1, 1],
    [4, 1, 1, 1, 1, 3],
    [4, 1, 1, 3, 1, 1],
    [1, 1, 3, 1, 4, 1],
    [1, 1, 4, 1, 3, 1], // 100
    [3, 1, 1, 1, 4, 1],
    [4, 1, 1, 1, 3, 1],
    [2, 1, 1, 4, 1, 2], // 103 START A
    [2, 1, 1, 2, 1, 4], // 104 START B
    [2, 1, 1, 2, 3, 2], // 105 START C
];

/// The stop pattern: the stop character plus its terminating bar, 13 modules.
const STOP_PATTERN: [u8; 7] = [2, 3, 3, 1, 1, 1, 2];

/// Bar/space widths of a symbol value, bar first; `None` past the stop (106).
pub fn widths(value: u8) -> Option<&'static [u8]> {
    match value {
        STOP => Some(&STOP_PATTERN),
        v => PATTERNS.get(v as usize).map(|p| &p[..]),
    }
}

/// An encoded symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code128 {
    /// Symbol values including the start character, the check symbol and the stop (106).
    pub values: Vec<u8>,
}

impl Code128 {
    /// The symbol's modules left to right, true = bar, without quiet zones.
    pub fn modules(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.module_count());
        for &v in &self.values {
            // Values come from `encode`; a hand-built value past 106 has no pattern and draws nothing.
            for (i, &w) in widths(v).unwrap_or(&[]).iter().enumerate() {
                out.extend(std::iter::repeat_n(i % 2 == 0, w as usize));
            }
        }
        out
    }

    /// Width of the symbol in modules, without quiet zones: 11 per symbol value, 2 more for the stop's final bar.
    pub fn module_count(&self) -> usize {
        self.values.iter().map(|&v| widths(v).map_or(0, |w| w.iter().map(|&m| m as usize).sum())).sum()
    }

    /// The check symbol as the standard defines it over the values before it.
    pub fn check_value(&self) -> Option<u8> {
        let n = self.values.len();
        (n >= 3).then(|| self.values[n - 2])
    }
}

/// Encodes ASCII text (0–127) into the shortest Code 128 symbol.
pub fn encode(data: &str) -> Result<Code128, BarcodeError> {
    if let Some((i, ch)) = data.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
        return Err(BarcodeError::UnsupportedChar { ch, position: i + 1 });
    }
    let bytes = data.as_bytes();
    if bytes.is_empty() {
        return Err(BarcodeError::Empty);
    }
    let plan = Plan::new(bytes);
    let start = plan.start_set();
    let mut values = Vec::with_capacity(bytes.len() + 4);
    values.push(match start {
        Set::A => START_A,
        Set::B => START_B,
        Set::C => START_C,
    });
    let (mut pos, mut set) = (0, start);
    while pos < bytes.len() {
        if let Some(to) = plan.switch[pos][set as usize] {
            values.push(to.switch_value());
            set = to;
        }
        let c = bytes[pos];
        match set {
            Set::C => {
                values.push((bytes[pos] - b'0') * 10 + (bytes[pos + 1] - b'0'));
                pos += 2;
                continue;
            }
            _ if set.holds(c) => values.push(set.value_of(c)),
            _ => {
                values.push(SHIFT);
                values.push(set.other().value_of(c));
            }
        }
        pos += 1;
    }
    values.push(check_symbol(&values));
    values.push(STOP);
    Ok(Code128 { values })
}

/// Modulo-103 check: the start value plus each following value weighted by its position (1, 2, …).
pub fn check_symbol(values_before_check: &[u8]) -> u8 {
    let sum: u64 = values_before_check.iter().enumerate().map(|(i, &v)| (i.max(1) as u64) * v as u64).sum();
    (sum % 103) as u8
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    A = 0,
    B = 1,
    C = 2,
}

impl Set {
    const ALL: [Set; 3] = [Set::A, Set::B, Set::C];

    /// Can one character be written in this set without SHIFT? (C only takes pairs, checked separately.)
    fn holds(self, c: u8) -> bool {
        match self {
            Set::A => c < 96,
            Set::B => (32..128).contains(&c),
            Set::C => false,
        }
    }

    fn value_of(self, c: u8) -> u8 {
        match self {
            Set::A if c < 32 => c + 64,
            _ => c - 32,
        }
    }

    /// The set SHIFT borrows from.
    fn other(self) -> Set {
        if self == Set::A { Set::B } else { Set::A }
    }

    fn switch_value(self) -> u8 {
        match self {
            Set::A => CODE_A,
            Set::B => CODE_B,
            Set::C => CODE_C,
        }
    }
}

const IMPOSSIBLE: u32 = u32::MAX / 4;

/// The dynamic program, solved from the end of the data backwards.
///
/// `stay[i][s]`: fewest symbols to write `data[i..]` when in set `s` and the next symbol writes data (a character,
/// a SHIFT pair or a digit pair). `best[i][s]`: the same, but a `CODE x` switch may come first. Two switches in a
/// row are never useful (the second alone does the same), so one optional switch per position covers every
/// encoding. Ties keep the current set, which puts the odd digit of a run before the switch to C, as ISO/IEC 15417
/// annex E does.
struct Plan {
    stay: Vec<[u32; 3]>,
    /// The switch to make at position i when in set s, if the shortest encoding makes one.
    switch: Vec<[Option<Set>; 3]>,
}

impl Plan {
    fn new(data: &[u8]) -> Plan {
        let n = data.len();
        let mut stay = vec![[IMPOSSIBLE; 3]; n + 1];
        let mut best = vec![[IMPOSSIBLE; 3]; n + 1];
        let mut switch = vec![[None; 3]; n + 1];
        best[n] = [0; 3];
        for i in (0..n).rev() {
            let c = data[i];
            for s in Set::ALL {
                stay[i][s as usize] = match s {
                    Set::C if i + 1 < n && c.is_ascii_digit() && data[i + 1].is_ascii_digit() => 1 + best[i + 2][2],
                    Set::C => IMPOSSIBLE,
                    _ if s.holds(c) => 1 + best[i + 1][s as usize],
                    _ => 2 + best[i + 1][s as usize], // SHIFT: every ASCII character is in A or B
                };
            }
            for s in Set::ALL {
                let mut cost = stay[i][s as usize];
                // Preference among switches on ties: B (most text), then C, then A.
                for to in [Set::B, Set::C, Set::A] {
                    if to != s && 1 + stay[i][to as usize] < cost {
                        cost = 1 + stay[i][to as usize];
                        switch[i][s as usize] = Some(to);
                    }
                }
                best[i][s as usize] = cost;
            }
        }
        Plan { stay, switch }
    }

    /// The start character is free of cost (every symbol has one), so start in the set that writes the rest in
    /// fewest symbols; ties prefer B, then C, then A.
    fn start_set(&self) -> Set {
        let mut start = Set::B;
        for s in [Set::C, Set::A] {
            if self.stay[0][s as usize] < self.stay[0][start as usize] {
                start = s;
            }
        }
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads symbol values back to text by the standard's tables: an independent check of what `encode` wrote.
    fn decode_values(values: &[u8]) -> Result<String, String> {
        let (last, body) = values.split_last().ok_or("no values")?;
        if *last != STOP {
            return Err("no stop".into());
        }
        let (check, body) = body.split_last().ok_or("no check")?;
        if check_symbol(body) != *check {
            return Err(format!("check {check} != {}", check_symbol(body)));
        }
        let mut set = match body.first() {
            Some(&START_A) => Set::A,
            Some(&START_B) => Set::B,
            Some(&START_C) => Set::C,
            other => return Err(format!("bad start {other:?}")),
        };
        let mut out = String::new();
        let mut shifted = false;
        for &v in &body[1..] {
            let cur = if shifted { set.other() } else { set };
            let was_shifted = std::mem::take(&mut shifted);
            match (cur, v) {
                (Set::C, 0..=99) => out.push_str(&format!("{v:02}")),
                (Set::A, 0..=63) | (Set::B, 0..=95) => out.push((v + 32) as char),
                (Set::A, 64..=95) => out.push((v - 64) as char),
                (Set::A | Set::B, SHIFT) if !was_shifted => shifted = true,
                (_, CODE_C) if !was_shifted && cur != Set::C => set = Set::C,
                (_, CODE_B) if !was_shifted && cur != Set::B => set = Set::B,
                (_, CODE_A) if !was_shifted && cur != Set::A => set = Set::A,
                _ => return Err(format!("value {v} not allowed in {cur:?}")),
            }
        }
        if shifted {
            return Err("dangling SHIFT".into());
        }
        Ok(out)
    }

    #[test]
    fn every_pattern_is_three_bars_three_spaces_of_eleven_modules() {
        for v in 0..106u8 {
            let w = widths(v).unwrap();
            assert_eq!(w.len(), 6, "value {v}");
            assert_eq!(w.iter().map(|&m| m as u32).sum::<u32>(), 11, "value {v}");
            assert!(w.iter().all(|&m| (1..=4).contains(&m)), "value {v}");
            // The standard's parity: bar modules even, space modules odd (what lets a scanner self-check).
            assert_eq!((w[0] + w[2] + w[4]) % 2, 0, "value {v} bar parity");
        }
        let stop = widths(STOP).unwrap();
        assert_eq!(stop.len(), 7);
        assert_eq!(stop.iter().map(|&m| m as u32).sum::<u32>(), 13);
        assert!(widths(107).is_none());
        let mut seen = std::collections::HashSet::new();
        for v in 0..=STOP {
            assert!(seen.insert(widths(v).unwrap()[..6].to_vec()), "value {v} duplicates a pattern");
        }
    }

    #[test]
    fn modules_start_with_a_bar_and_end_with_the_stop_bar() {
        let code = encode("PJJ123C").unwrap();
        let m = code.modules();
        assert_eq!(m.len(), code.module_count());
        assert_eq!(m.len(), 11 * (code.values.len() - 1) + 13);
        assert!(m[0]);
        assert!(m[m.len() - 1] && m[m.len() - 2] && !m[m.len() - 3]);
        // Start B is 211214: bar bar space bar space space bar space…
        assert_eq!(&m[..11], &[true, true, false, true, false, false, true, false, false, false, false]);
    }

    // Expected values below are worked by hand from the standard's tables: set choice, values, then
    // check = (start + Σ position × value) mod 103.

    #[test]
    fn alphanumeric_order_id_stays_in_b() {
        // Switching to C for "123" saves nothing. P=48 J=42 J=42 1=17 2=18 3=19 C=35.
        // 104 + 48 + 84 + 126 + 68 + 90 + 114 + 245 = 879 = 8×103 + 55.
        let code = encode("PJJ123C").unwrap();
        assert_eq!(code.values, vec![104, 48, 42, 42, 17, 18, 19, 35, 55, 106]);
        assert_eq!(code.module_count(), 9 * 11 + 13);
    }

    #[test]
    fn all_digits_use_start_c_pairs() {
        // J&T Express style 12-digit waybill: 63 00 12 34 56 78.
        // 105 + 63 + 0 + 36 + 136 + 280 + 468 = 1088 = 10×103 + 58.
        let code = encode("630012345678").unwrap();
        assert_eq!(code.values, vec![105, 63, 0, 12, 34, 56, 78, 58, 106]);
        // USPS IMpb, 22 digits: 94 00 11 12 01 08 00 85 04 58 43.
        // 105 + 94 + 0 + 33 + 48 + 5 + 48 + 0 + 680 + 36 + 580 + 473 = 2102 = 20×103 + 42.
        let code = encode("9400111201080085045843").unwrap();
        assert_eq!(code.values, vec![105, 94, 0, 11, 12, 1, 8, 0, 85, 4, 58, 43, 42, 106]);
        assert_eq!(code.module_count(), 13 * 11 + 13);
    }

    #[test]
    fn ups_number_switches_to_c_for_its_fourteen_digits() {
        // B: 1=17 Z=58 5=21 R=50, CODE C, 89 39 03 88 69 46 46.
        // 104 + 17 + 116 + 63 + 200 + 495 + 534 + 273 + 24 + 792 + 690 + 506 + 552 = 4366 = 42×103 + 40.
        let code = encode("1Z5R89390388694646").unwrap();
        assert_eq!(code.values, vec![104, 17, 58, 21, 50, 99, 89, 39, 3, 88, 69, 46, 46, 40, 106]);
    }

    #[test]
    fn odd_digit_run_writes_its_first_digit_in_b() {
        // NVSGACMEH in B (46 54 51 39 33 35 45 37 40), 6 = 22 in B, CODE C, 75 75 10 77.
        // Putting the odd digit last instead would need a CODE B after the pairs: one symbol more.
        // 104 + 46 + 108 + 153 + 156 + 165 + 210 + 315 + 296 + 360 + 220 + 1089 + 900 + 975 + 140 + 1155 = 6392
        // = 62×103 + 6.
        let code = encode("NVSGACMEH675751077").unwrap();
        assert_eq!(code.values, vec![104, 46, 54, 51, 39, 33, 35, 45, 37, 40, 22, 99, 75, 75, 10, 77, 6, 106]);
    }

    #[test]
    fn upu_s10_switches_to_c_and_back() {
        // R=50 B=34, 6=22, CODE C, 87 51 64 85, CODE B, G=39 B=34: 11 data symbols against 13 in B alone.
        // 104 + 50 + 68 + 66 + 396 + 435 + 306 + 448 + 680 + 900 + 390 + 374 = 4217 = 40×103 + 97.
        let code = encode("RB687516485GB").unwrap();
        assert_eq!(code.values, vec![104, 50, 34, 22, 99, 87, 51, 64, 85, 100, 39, 34, 97, 106]);
    }

    #[test]
    fn control_characters_use_set_a_and_lower_case_a_shift() {
        // TAB is only in A (value 73); "ab" are only in B. One lower-case letter among control characters is
        // cheaper as SHIFT than as two switches.
        let code = encode("\tA\ta\t").unwrap();
        assert_eq!(&code.values[..7], &[START_A, 73, 33, 73, SHIFT, 65, 73]);
        assert_eq!(decode_values(&code.values).unwrap(), "\tA\ta\t");
        let code = encode("\t\tabc").unwrap();
        assert_eq!(&code.values[..7], &[START_A, 73, 73, CODE_B, 65, 66, 67]);
        // One control character before text: SHIFT from B is as short as CODE B from A; ties start in B.
        let code = encode("\tabc").unwrap();
        assert_eq!(&code.values[..6], &[START_B, SHIFT, 73, 65, 66, 67]);
    }

    #[test]
    fn short_digit_strings() {
        assert_eq!(encode("12").unwrap().values, vec![START_C, 12, (105 + 12) % 103, STOP]);
        assert_eq!(encode("1").unwrap().values, vec![START_B, 17, (104 + 17) % 103, STOP]);
        // Odd leading run followed by text: start C, pairs, CODE B before the last digit.
        let v = encode("12345X").unwrap().values;
        assert_eq!(&v[..6], &[START_C, 12, 34, CODE_B, 21, 56]);
    }

    #[test]
    fn refuses_non_ascii_naming_character_and_position() {
        let err = encode("AB€12").unwrap_err();
        assert_eq!(err, BarcodeError::UnsupportedChar { ch: '€', position: 3 });
        let msg = err.to_string();
        assert!(msg.contains("'€'") && msg.contains("U+20AC") && msg.contains("position 3"), "{msg}");
        assert_eq!(encode(""), Err(BarcodeError::Empty));
    }

    /// Shortest length over every encoding, by exhaustive search: any start, and at every step any allowed move
    /// (character, SHIFT + character, digit pair, or a switch that is not straight after another switch).
    fn brute_force_len(data: &[u8]) -> usize {
        fn search(data: &[u8], set: Set, just_switched: bool, len: usize, best: &mut usize) {
            if len >= *best {
                return;
            }
            if data.is_empty() {
                *best = len;
                return;
            }
            let c = data[0];
            match set {
                Set::C => {
                    if data.len() >= 2 && c.is_ascii_digit() && data[1].is_ascii_digit() {
                        search(&data[2..], set, false, len + 1, best);
                    }
                }
                _ => {
                    if set.holds(c) {
                        search(&data[1..], set, false, len + 1, best);
                    }
                    if set.other().holds(c) {
                        search(&data[1..], set, false, len + 2, best);
                    }
                }
            }
            if !just_switched {
                for to in Set::ALL {
                    if to != set {
                        search(data, to, true, len + 1, best);
                    }
                }
            }
        }
        let mut best = usize::MAX;
        for s in Set::ALL {
            search(data, s, true, 1, &mut best);
        }
        best + 2 // check and stop
    }

    fn small_ascii() -> impl Strategy<Value = String> {
        // Digits dominate so C runs of every parity appear; control and lower case force A, B and SHIFT.
        let ch = prop_oneof![
            4 => proptest::char::range('0', '9'),
            1 => proptest::char::range('A', 'C'),
            1 => proptest::char::range('a', 'c'),
            1 => proptest::char::range('\0', '\x1f'),
            1 => Just('\x7f'),
        ];
        proptest::collection::vec(ch, 1..=6).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn dynamic_program_is_optimal(data in small_ascii()) {
            let code = encode(&data).unwrap();
            prop_assert_eq!(code.values.len(), brute_force_len(data.as_bytes()));
            prop_assert_eq!(decode_values(&code.values), Ok(data));
        }

        #[test]
        fn any_ascii_round_trips(data in "[\\x00-\\x7f]{1,60}") {
            let code = encode(&data).unwrap();
            prop_assert_eq!(decode_values(&code.values), Ok(data));
            prop_assert_eq!(code.modules().len(), code.values.len() * 11 + 2);
        }

        #[test]
        fn never_panics_on_any_text(data in ".{0,20}") {
            let _ = encode(&data);
        }
    }
}
