//! The preprocessor's rules, each against what keepalived 2.2.7 does with the same lines
//! (checked with `keepalived -t`, whose "Unknown keyword" errors show the lines it made).

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::config::lexer::{lex_line, TokKind, Token};

/// What the lexer gets from `text` read as config id `id`: the lines (words joined by one
/// space, quoted ones in quotes), and every error and warning as `line:col: message`.
struct Run {
    lines: Vec<String>,
    tokens: Vec<Token>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

fn run(text: &str, id: Option<&str>) -> Run {
    let file: Arc<Path> = Arc::from(Path::new("k.conf"));
    let mut cx = Context::new(id.map(str::to_string));
    let mut pre = Preprocessor::new(text, file.clone());
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    loop {
        match pre.next_line(&mut cx) {
            Ok(Some(line)) => {
                if let Err(e) = lex_line(&line, &file, &mut tokens) {
                    errors.push(e);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                errors.push(e);
                break;
            }
        }
    }
    errors.splice(0..0, cx.errors);
    let strip = |s: String| s.trim_start_matches("k.conf:").to_string();
    let mut lines = Vec::new();
    let mut line = String::new();
    for t in &tokens {
        if !line.is_empty() && t.kind != TokKind::Newline {
            line.push(' ');
        }
        match t.kind {
            TokKind::Newline => lines.push(std::mem::take(&mut line)),
            TokKind::Quoted => line.push_str(&format!("\"{}\"", t.text)),
            _ => line.push_str(&t.text),
        }
    }
    Run {
        lines,
        tokens,
        errors: errors.into_iter().map(|e| strip(e.to_string())).collect(),
        warnings: cx
            .warnings
            .into_iter()
            .map(|w| strip(w.to_string()))
            .collect(),
    }
}

/// The lines of `text` as `id` reads them; no error or warning.
fn lines(text: &str, id: &str) -> Vec<String> {
    let r = run(text, Some(id));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    r.lines
}

/// Where the token `word` of `text` is, as `line:col`.
fn place(text: &str, id: &str, word: &str) -> String {
    let r = run(text, Some(id));
    let t = r.tokens.iter().find(|t| t.text == word).expect("the word");
    format!("{}:{}", t.span.line, t.span.column)
}

#[test]
fn a_condition_keeps_or_drops_its_line() {
    let text = "@lb1 one\n@^lb1 not_one\n@lb2 two\n@^lb2 not_two\n@lb1\ttab\n@lb1\n@lb1kw\n";
    assert_eq!(lines(text, "lb1"), ["one", "not_two", "tab"]);
    assert_eq!(lines(text, "lb2"), ["not_one", "two"]);
    assert_eq!(lines(text, "lb3"), ["not_one", "not_two"]);
    // One id, compared whole and with its case.
    assert_eq!(lines("@lb1,lb2 x\n@LB1 y\n@^LB1 z\n", "lb1"), ["z"]);
    // Without a config id, @ID lines go and @^ID lines stay.
    assert_eq!(run("@a x\n@^a y\n", None).lines, ["y"]);
    // Inside blocks and on their braces alike: per line, not per block.
    let text = "vrrp_instance VI {\n  @lb1 priority 200\n  @^lb1 priority 100\n@lb1 }\n";
    assert_eq!(
        lines(text, "lb1"),
        ["vrrp_instance VI {", "priority 200", "}"]
    );
    assert_eq!(lines(text, "lb2"), ["vrrp_instance VI {", "priority 100"]);
    // One prefix a line, as keepalived: the second is then a word.
    assert_eq!(lines("@lb1 @lb1 x\n", "lb1"), ["@lb1 x"]);
}

#[test]
fn kept_text_keeps_its_columns() {
    let text = "vrrp_instance VI {\n   @lb1   priority 200 # comment\n}\n";
    assert_eq!(place(text, "lb1", "priority"), "2:11");
    assert_eq!(place(text, "lb1", "200"), "2:20");
    let r = run(text, Some("lb1"));
    let newline = &r.tokens[6];
    assert_eq!(newline.kind, TokKind::Newline);
    assert_eq!((newline.span.line, newline.span.column), (2, 33));
}

#[test]
fn definitions_and_substitution() {
    let text =
        "$A=hello\n${A}_kw\n$A.x\n$A,x\nq \"x $A y\"\n$E=\ne_${E}_x\n$SP=   sp  v   \nw${SP}z\n";
    assert_eq!(
        lines(text, "lb1"),
        [
            "hello_kw",
            "$A.x",
            "hello,x",
            "q \"x hello y\"",
            "e__x",
            "wsp vz"
        ]
    );
    // Replaced when used, with the values then defined (keepalived.conf(5)'s example).
    let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n\
                ${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n";
    assert_eq!(lines(text, "x"), ["10.2.0.100/32", "10.2.10.100/32"]);
    // With conditions: on a definition, and brought by a value.
    let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                $IF_MAIN=@main\n$IF_MAIN weight 2\n";
    assert_eq!(lines(text, "main"), ["priority 240", "weight 2"]);
    assert_eq!(lines(text, "backup"), ["priority 200"]);
    // A value may make a definition.
    assert_eq!(lines("$D=$X=5\n$D\nv $X\n", "a"), ["v 5"]);
    // A substituted value's columns are the reference's; what follows keeps its own.
    let text = "$VIP=198.51.100.7/24\n  ${VIP} dev eth0\n";
    assert_eq!(place(text, "a", "198.51.100.7/24"), "2:3");
    assert_eq!(place(text, "a", "dev"), "2:10");
}

#[test]
fn comments_are_gone_before_substitution() {
    let text = "$H=a\\#b # comment\nx ${H} ${_HASH} ${_BANG} y\n$C=c # $A\nv $C\n";
    assert_eq!(lines(text, "a"), ["x a#b # ! y", "v c"]);
}

#[test]
fn multi_line_definitions() {
    let text = "$INSTANCE= \\\nvrrp_instance VI_${NUM} { \\\n  @high priority 130 \\\n\
                @low priority 120 \\\n  virtual_ipaddress { \\\n 10.0.${NUM}.254/24 \\\n } \\\n}\n\
                $NUM=0\n$INSTANCE\n$NUM=1\n$INSTANCE\n";
    assert_eq!(
        lines(text, "high"),
        [
            "vrrp_instance VI_0 {",
            "priority 130",
            "virtual_ipaddress {",
            "10.0.0.254/24",
            "}",
            "}",
            "vrrp_instance VI_1 {",
            "priority 130",
            "virtual_ipaddress {",
            "10.0.1.254/24",
            "}",
            "}",
        ]
    );
    // An empty line ends one, a comment or blank line is skipped, a lone \ adds nothing.
    let text = "$D= \\\n d1 \\\n\n d2\n$D\n$E=e0 \\\n # c\n   \n\\\n e1\n$E\n";
    assert_eq!(lines(text, "a"), ["d2", "d1", "e0", "e1"]);
    // Only where it ends a line; its first line joins what is before it.
    let text = "$M=m1 \\\nm2\n$M tail\nx $M\nx${M}\n";
    assert_eq!(lines(text, "a"), ["$M tail", "x m1", "m2", "xm1", "m2"]);
    // One with a single line is a plain definition.
    assert_eq!(lines("$H= \\\nh1\n$H x\n", "a"), ["h1 x"]);
    // Nested: the inner value's lines come before the rest of the outer one.
    let text = "$IN=i1 \\\ni2\n$OUT=o1 $IN\\\no2\n$OUT\n";
    assert_eq!(lines(text, "a"), ["o1 i1", "i2", "o2"]);
}

#[test]
fn sequences_and_lists() {
    let text = "~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1\n";
    let want: Vec<String> = (0..4).map(|i| format!("ip_address 10.0.{i}.1")).collect();
    assert_eq!(lines(text, "a"), want);
    let text = "~SEQx(AD2, 0x90, 0x10, 0xa0) ~SEQx(AD1, 0x12, -1, 0x11) fe81::10:${AD2}:${AD1}\n";
    assert_eq!(
        lines(text, "a"),
        [
            "fe81::10:90:12",
            "fe81::10:90:11",
            "fe81::10:a0:12",
            "fe81::10:a0:11"
        ]
    );
    let text = "$N=2\n~SEQ(w, $N) n_$w\n~SEQ(k, 5, 4) d_$k\n~SEQ(i, 0) z_$i\n";
    assert_eq!(lines(text, "a"), ["n_1", "n_2", "d_5", "d_4", "z_1", "z_0"]);
    let text = "~LST({IP, IP1}, {10,1},{20,4}) 192.168.${IP}.${IP1}\n\
                ~LST(IP2, 1, 2) ~LST(IP3, a,b) l_${IP2}.${IP3}\n";
    assert_eq!(
        lines(text, "a"),
        [
            "192.168.10.1",
            "192.168.20.4",
            "l_1.a",
            "l_1.b",
            "l_2.a",
            "l_2.b"
        ]
    );
    // A sequence over a multi-line definition, each copy whole before the next.
    let text = "$VI= \\\nvi_${ID} { \\\nid ${ID}\\\n}\n~SEQ(ID, 1, 2) $VI\n";
    assert_eq!(
        lines(text, "a"),
        ["vi_1 {", "id 1", "}", "vi_2 {", "id 2", "}"]
    );
    // A definition that is a sequence gets its variable from the sequence, each time.
    let text = "$S=~SEQ(z, 2) s_$z\n$S\n$S\n";
    assert_eq!(lines(text, "a"), ["s_1", "s_2", "s_1", "s_2"]);
    // A copy that is from the file points into it.
    assert_eq!(place("~SEQ(i, 1)  ip ${i}\n", "a", "ip"), "1:13");
}

#[test]
fn predefined_parameters() {
    let r = lines(
        "inst ${_INSTANCE}\n$_INSTANCE=mine\ninst ${_INSTANCE}\n",
        "lb7",
    );
    assert_eq!(r, ["inst lb7", "inst mine"]);
    let r = run("d ${_PWD}\n", Some("a"));
    let dir = std::fs::canonicalize(".").expect("cwd");
    assert_eq!(r.lines, [format!("d {}", dir.display())]);
    let r = run("x ${_RANDOM}\ny ${_RANDOM 1 9}\n", Some("a"));
    assert_eq!(
        r.errors,
        [
            "1:3: ${_RANDOM} is not supported",
            "2:3: ${_RANDOM} is not supported"
        ]
    );
}

#[test]
fn undefined_names_stay_and_warn_outside_quotes() {
    let r = run("a ${NOPE} $NOPE\nnotify \"/bin/x ${HOME}\"\n", Some("a"));
    // The braces are braces to the lexer, as to keepalived's.
    assert_eq!(r.lines, ["a $ { NOPE } $NOPE", "notify \"/bin/x ${HOME}\""]);
    assert_eq!(
        r.warnings,
        ["1:3: ${NOPE}: no such definition: left as written, as keepalived does"]
    );
    assert!(r.errors.is_empty());
}

#[test]
fn malformed_lines_are_errors_with_their_place() {
    let text = "ok1\n  x ${A\n$=v\n$1A=v\n $A =v\n~SEQ(i)\n~SEQ(i, 1, 0, 3) x\n\
                ~SEQx(i, -1, 2)\n~LST(v)\n~SEQ(i, $NOPE)\nok2\n";
    let r = run(text, Some("a"));
    assert_eq!(r.lines, ["ok1", "ok2"]);
    assert_eq!(
        r.errors,
        [
            "2:5: \"${A\" is not closed by \"}\"",
            "3:1: \"$=v\" is not a parameter definition: a name is letters, digits and _, not starting with a digit",
            "4:1: \"$1A=v\" is not a parameter definition: a name is letters, digits and _, not starting with a digit",
            "5:2: no blank is allowed between $A and \"=\" in a definition",
            "6:1: invalid ~SEQ: expected a variable, then \",\" and values",
            "7:1: invalid ~SEQ: step 0 never goes from 1 to 3",
            "8:1: invalid ~SEQx: ~SEQx takes positive numbers only",
            "9:1: invalid ~LST: expected a variable, then \",\" and values",
            "10:1: invalid ~SEQ: \"$NOPE\" is not a number",
        ]
    );
}

#[test]
fn self_reference_and_growth_are_bounded() {
    // A definition that refers to itself, directly or not.
    let r = run(
        "$A=${A}\nx ${A}\n$B=${C}\n$C=${B}x\ny ${B}\nok\n",
        Some("a"),
    );
    assert_eq!(r.lines, ["ok"]);
    assert_eq!(
        r.errors,
        [
            "2:3: more than 1024 substitutions in one line (does a definition refer to itself?)",
            "5:3: more than 1024 substitutions in one line (does a definition refer to itself?)",
        ]
    );
    // Doubling definitions: the line is refused before it is long.
    let mut text = format!("$D0={}\n", "x".repeat(100));
    for i in 1..40 {
        text.push_str(&format!("$D{i}=${{D{}}}${{D{}}}\n", i - 1, i - 1));
    }
    text.push_str("v ${D39}\n");
    let r = run(&text, Some("a"));
    assert_eq!(
        r.errors,
        ["41:3: substitution makes the line longer than 16384 bytes"]
    );
    // Doubling multi-line definitions: the whole expansion is bounded, and ends the file.
    let mut text = String::from("$M0=m\n");
    for i in 1..40 {
        text.push_str(&format!("$M{i}= \\\n$M{}\\\n$M{}\n", i - 1, i - 1));
    }
    text.push_str("$M39\nnever\n");
    let r = run(&text, Some("a"));
    assert_eq!(
        r.errors.last().map(String::as_str),
        Some("119:1: expanding definitions and sequences makes more than 4194304 bytes of configuration")
    );
    assert!(!r.lines.iter().any(|l| l == "never"));
    // A sequence too long is refused before it starts, whatever its numbers.
    let r = run(
        "~SEQ(i, 0, 1000000000000) x\n~SEQ(j, -9223372036854775807, 9223372036854775807)\nok\n",
        Some("a"),
    );
    assert_eq!(r.lines, ["ok"]);
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert!(r.errors[0].starts_with("1:1: expanding"), "{:?}", r.errors);
}

/// A small xorshift, for repeatable random lines.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn random_lines_never_panic_or_hang() {
    const PIECES: &[&str] = &[
        "$",
        "${",
        "}",
        "{",
        "@",
        "@^",
        "lb1",
        " ",
        "\t",
        "=",
        "\\",
        "\n",
        "~SEQ(",
        "~SEQx(",
        "~LST(",
        "(",
        ")",
        ",",
        "0x1f",
        "-3",
        "9",
        "A",
        "B",
        "_PWD",
        "#",
        "!",
        "\"",
        "$A=",
        "$B= \\\n",
        "${A}",
        "$B",
        "~",
        "é",
        "priority",
        "vrrp_instance",
    ];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..3000 {
        let n = 1 + rng.below(40);
        let text: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        let start = std::time::Instant::now();
        let r = run(&text, Some("lb1"));
        assert!(start.elapsed().as_secs() < 5, "slow on {text:?}");
        for e in &r.errors {
            assert!(
                e.split(':')
                    .next()
                    .is_some_and(|l| l.parse::<u32>().is_ok()),
                "{e}"
            );
        }
    }
}
