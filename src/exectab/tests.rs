//! Unit tests for `exectab`: definition parsing and its warnings, option
//! tokens, quoting, `@@N` substitution and `%NAME%` expansion.

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Parse a one-definition text that must produce no warnings.
fn one(desc: &str, text: &str) -> ScriptDef {
    let (tab, warnings) = Exectab::parse(text);
    assert!(
        warnings.is_empty(),
        "{desc}: unexpected warnings {warnings:?}"
    );
    assert_eq!(tab.len(), 1, "{desc}: expected one script, got {tab:?}");
    let def = tab.scripts().next().unwrap().clone();
    def
}

/// Parse a one-line text that must be rejected with one warning on line 1.
fn rejected(desc: &str, text: &str) -> ParseWarning {
    let (tab, warnings) = Exectab::parse(text);
    assert!(
        tab.is_empty(),
        "{desc}: expected nothing loaded, got {tab:?}"
    );
    assert_eq!(warnings.len(), 1, "{desc}: warnings {warnings:?}");
    assert_eq!(warnings[0].line, 1, "{desc}: {warnings:?}");
    warnings[0].clone()
}

#[test]
fn defaults() {
    let d = one("plain line", "test /usr/bin/php /x.php");
    let mut want = ScriptDef::with_name("test".into());
    want.command = s(&["/usr/bin/php", "/x.php"]);
    assert_eq!(d, want);
    assert_eq!(d.simultaneous, 1);
    assert_eq!(d.max_queued, None);
    assert!(!d.stdin && !d.noexec && !d.forget);
}

#[test]
fn every_option() {
    type Check = fn(&ScriptDef) -> bool;
    let cases: &[(&str, &str, Check)] = &[
        ("-d", "-d=/var/log x /bin/true", |d| {
            d.dir.as_deref() == Some("/var/log")
        }),
        ("-e single", "-e=A=1 x /bin/true", |d| {
            d.env == [("A".into(), "1".into())]
        }),
        (
            "-e value keeps later '=' and %..% raw",
            "-e=P=a=b%HOME% x /bin/true",
            |d| d.env == [("P".into(), "a=b%HOME%".into())],
        ),
        ("-e empty value allowed", "-e=A= x /bin/true", |d| {
            d.env == [("A".into(), "".into())]
        }),
        (
            "-e repeated, file order",
            "-e=B=2 -e=A=1 x /bin/true",
            |d| d.env == [("B".into(), "2".into()), ("A".into(), "1".into())],
        ),
        ("-g", "-g=wheel x /bin/true", |d| {
            d.group.as_deref() == Some("wheel")
        }),
        ("-i", "-i x /bin/true", |d| {
            d.stdin && !d.noexec && !d.forget
        }),
        ("-m=5", "-m=5 x /bin/true", |d| d.max_queued == Some(5)),
        ("-m=0 is unlimited", "-m=0 x /bin/true", |d| {
            d.max_queued.is_none()
        }),
        ("-n without command", "-n x", |d| {
            d.noexec && d.command.is_empty()
        }),
        ("-r", "-r x /bin/true", |d| d.forget && !d.stdin),
        ("-s=3", "-s=3 x /bin/true", |d| d.simultaneous == 3),
        ("-t=30", "-t=30 x /bin/true", |d| d.timeout_secs == Some(30)),
        ("-u", "-u=bob x /bin/true", |d| {
            d.user.as_deref() == Some("bob")
        }),
        ("repeated -s: later wins", "-s=2 -s=4 x /bin/true", |d| {
            d.simultaneous == 4
        }),
        (
            "long name as in original",
            "-simultaneous=2 -stdinallowed x /bin/true",
            |d| d.simultaneous == 2 && d.stdin,
        ),
        (
            "all together",
            "-d=/w -e=K=v -g=g -i -m=9 -r -s=2 -t=7 -u=u x /bin/a b",
            |d| {
                d.dir.as_deref() == Some("/w")
                    && d.env.len() == 1
                    && d.group.as_deref() == Some("g")
                    && d.stdin
                    && d.max_queued == Some(9)
                    && d.forget
                    && d.simultaneous == 2
                    && d.timeout_secs == Some(7)
                    && d.user.as_deref() == Some("u")
                    && d.command == ["/bin/a", "b"]
            },
        ),
    ];
    for (desc, line, check) in cases {
        let d = one(desc, line);
        assert!(check(&d), "{desc}: {line:?} gave {d:?}");
    }
}

#[test]
fn combined_flags() {
    let cases: &[(&str, &str, bool, bool, bool)] = &[
        ("-ir", "-ir x /bin/true", true, false, true),
        ("-inr", "-inr x", true, true, true),
        ("-ni plus separate -r", "-ni -r x", true, true, true),
        ("-rr repeated letter", "-rr x /bin/true", false, false, true),
    ];
    for (desc, line, stdin, noexec, forget) in cases {
        let d = one(desc, line);
        assert_eq!(
            (d.stdin, d.noexec, d.forget),
            (*stdin, *noexec, *forget),
            "{desc}: {d:?}"
        );
    }
}

#[test]
fn tokenizing_quotes_and_escapes() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "double quotes keep spaces",
            r#"x /bin/echo "a b"  c"#,
            &["/bin/echo", "a b", "c"],
        ),
        (
            "single quotes keep spaces",
            "x /bin/echo 'a  b' c",
            &["/bin/echo", "a  b", "c"],
        ),
        (
            "other quote literal inside",
            r#"x e "it's" 'say "hi"'"#,
            &["e", "it's", r#"say "hi""#],
        ),
        ("adjacent pieces join", r#"x e a"b c"d"#, &["e", "ab cd"]),
        (
            "empty quotes give empty arg",
            r#"x e "" z"#,
            &["e", "", "z"],
        ),
        ("escaped double quote", r#"x e \"q\""#, &["e", "\"q\""]),
        (
            "escaped quote inside double quotes",
            r#"x e "a\"b""#,
            &["e", "a\"b"],
        ),
        ("escaped space", r"x e a\ b", &["e", "a b"]),
        ("escaped backslash", r"x e a\\b", &["e", r"a\b"]),
        (
            "backslash escapes inside single quotes",
            r"x e 'a\'b'",
            &["e", "a'b"],
        ),
        (
            "trailing lone backslash is literal",
            r"x e a\",
            &["e", r"a\"],
        ),
        ("tabs separate", "x\te\t\ta", &["e", "a"]),
        (
            "dash after name is a param",
            "x e -s=abc -zz",
            &["e", "-s=abc", "-zz"],
        ),
        (
            "hash later in line is not a comment",
            "x e # no",
            &["e", "#", "no"],
        ),
        ("CRLF line ending", "x e a\r\n", &["e", "a"]),
    ];
    for (desc, line, want) in cases {
        let d = one(desc, line);
        assert_eq!(d.name, "x", "{desc}");
        assert_eq!(d.command, s(want), "{desc}: {line:?}");
    }
}

#[test]
fn quoted_option_values_and_names() {
    let d = one("quoted -d value", r#"-d="/my dir" -e='A=x y' x /bin/true"#);
    assert_eq!(d.dir.as_deref(), Some("/my dir"));
    assert_eq!(d.env, [("A".to_string(), "x y".to_string())]);
    let d = one(
        "quoted leading dash is a name, not an option",
        r#""-x" /bin/true"#,
    );
    assert_eq!(d.name, "-x");
    let d = one("escaped leading dash is a name", r"\-y /bin/true");
    assert_eq!(d.name, "-y");
}

#[test]
fn comments_and_blank_lines() {
    let text =
        "# comment\n  # indented hash\n// slashes\n\t// indented slashes\n\n   \n\t\na /bin/a\n";
    let (tab, warnings) = Exectab::parse(text);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        tab.scripts().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    // A BOM at the start of the file is not part of the first line.
    let (tab, warnings) = Exectab::parse("\u{feff}# c\nb /bin/b");
    assert!(warnings.is_empty(), "BOM: {warnings:?}");
    assert!(tab.get("b").is_some());
    let (tab, _) = Exectab::parse("");
    assert!(tab.is_empty());
    assert_eq!(tab.len(), 0);
}

#[test]
fn malformed_lines() {
    let cases: &[(&str, &str, &str)] = &[
        ("unknown option", "-x a /bin/a", "-x"),
        ("unknown letter among flags", "-iz a /bin/a", "-z"),
        ("lone dash", "- a /bin/a", "unknown option"),
        (
            "value option combined",
            "-is=2 a /bin/a",
            "cannot be combined",
        ),
        ("value option without =", "-s a /bin/a", "needs a value"),
        ("flag with value", "-i=1 a /bin/a", "takes no value"),
        (
            "combined flags with value",
            "-ir=1 a /bin/a",
            "take no value",
        ),
        ("-s not a number", "-s=abc a /bin/a", "-s=abc"),
        ("-s zero", "-s=0 a /bin/a", "-s=0"),
        ("-s plus sign", "-s=+2 a /bin/a", "-s=+2"),
        ("-s empty", "-s= a /bin/a", "-s="),
        ("-s overflow", "-s=99999999999 a /bin/a", "-s="),
        ("-m negative", "-m=-1 a /bin/a", "-m=-1"),
        ("-m not a number", "-m=x a /bin/a", "-m=x"),
        ("-t zero", "-t=0 a /bin/a", "-t=0"),
        ("-t fractional", "-t=1.5 a /bin/a", "-t=1.5"),
        ("-e without =", "-e=NOEQUALS a /bin/a", "NOEQUALS"),
        ("-e empty name", "-e==v a /bin/a", "VAR=value"),
        ("-d empty", "-d= a /bin/a", "-d="),
        ("-u empty", "-u= a /bin/a", "-u="),
        ("-g empty", "-g= a /bin/a", "-g="),
        (
            "unterminated double quote",
            r#"a /bin/a "oops"#,
            "unterminated",
        ),
        (
            "unterminated single quote",
            "a /bin/a 'oops",
            "unterminated",
        ),
        ("options but no name", "-i -s=2", "no script name"),
        ("name without command", "a", "no command"),
        ("name with slash", "a/b /bin/a", "a/b"),
        ("name with space via quotes", r#""a b" /bin/a"#, "a b"),
        ("empty name via quotes", r#""" /bin/a"#, "empty script name"),
        ("NUL in a token", "a /bin/a x\0y", "NUL"),
    ];
    for (desc, line, needle) in cases {
        let w = rejected(desc, line);
        assert!(
            w.message.contains(needle),
            "{desc}: message {:?} lacks {needle:?}",
            w.message
        );
    }
}

#[test]
fn bad_line_skipped_rest_loads() {
    let text = "good1 /bin/a\n# c\n-x bad /bin/b\n-s=abc bad2 /bin/c\ngood2 /bin/d";
    let (tab, warnings) = Exectab::parse(text);
    assert_eq!(
        tab.scripts().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["good1", "good2"]
    );
    assert_eq!(warnings.iter().map(|w| w.line).collect::<Vec<_>>(), [3, 4]);
    assert!(
        warnings[0].to_string().contains("line 3"),
        "{}",
        warnings[0]
    );
    assert!(tab.get("bad").is_none() && tab.get("bad2").is_none());
}

#[test]
fn duplicate_name_later_wins() {
    let text = "dup /bin/first\nother /bin/o\ndup -x /bin/second";
    let (tab, warnings) = Exectab::parse(text);
    assert_eq!(tab.get("dup").unwrap().command, ["-x", "/bin/second"]);
    assert_eq!(tab.len(), 2);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, 3);
    assert!(warnings[0].message.contains("line 1"), "{warnings:?}");
    // A malformed redefinition does not replace the good one.
    let (tab, warnings) = Exectab::parse("dup /bin/first\n-s=0 dup /bin/second");
    assert_eq!(tab.get("dup").unwrap().command, ["/bin/first"]);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].line, 2);
}

#[test]
fn noexec_with_command() {
    let d = one("-n with params", "-n test4 @@1 @@2");
    assert!(d.noexec);
    assert_eq!(d.command, ["@@1", "@@2"]);
    assert_eq!(d.required_args(), 2);
}

#[test]
fn scripts_sorted_and_get() {
    let (tab, _) = Exectab::parse("b /b\na /a\nc /c");
    assert_eq!(
        tab.scripts().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(tab.get("a").unwrap().command, ["/a"]);
    assert!(tab.get("z").is_none());
    assert!(!tab.is_empty());
}

#[test]
fn substitute_cases() {
    let args = s(&["one", "two", "@@2", "", "five", "6", "7", "8", "9", "ten"]);
    let cases: &[(&str, &str, &[String], &str)] = &[
        ("no placeholder", "plain", &args, "plain"),
        ("single", "@@1", &args, "one"),
        ("embedded", "-o=@@1.txt", &args, "-o=one.txt"),
        ("several in one token", "@@1-@@2-@@1", &args, "one-two-one"),
        ("@@10 is ten, not @@1 then 0", "@@10", &args, "ten"),
        ("@@1 next to @@10", "@@1/@@10", &args, "one/ten"),
        ("arg containing @@ is not rescanned", "@@3", &args, "@@2"),
        ("empty arg", "[@@4]", &args, "[]"),
        ("@@0 stays literal", "@@0", &args, "@@0"),
        ("out of range stays literal", "@@11", &args, "@@11"),
        ("out of range with no args", "a@@1b", &[], "a@@1b"),
        (
            "huge number stays literal",
            "@@99999999999999999999999",
            &args,
            "@@99999999999999999999999",
        ),
        ("leading zero is decimal", "@@01", &args, "one"),
        ("@@ without digits", "@@x @@", &args, "@@x @@"),
        ("triple @", "@@@2", &args, "@two"),
        ("non-ASCII around", "é@@1ü", &args, "éoneü"),
    ];
    for (desc, token, a, want) in cases {
        assert_eq!(substitute(token, a), *want, "{desc}: {token:?}");
    }
}

#[test]
fn required_args_cases() {
    let cases: &[(&str, &str, usize)] = &[
        ("none", "x /bin/a b", 0),
        ("single", "x /bin/a @@1", 1),
        ("max across tokens", "x /bin/a @@2 -o=@@1", 2),
        ("greedy digits", "x /bin/a @@12", 12),
        ("@@0 does not count", "x /bin/a @@0", 0),
        ("name is not scanned", "-n @@5", 0),
        (
            "saturates when huge",
            "x /bin/a @@99999999999999999999999",
            usize::MAX,
        ),
    ];
    for (desc, line, want) in cases {
        assert_eq!(one(desc, line).required_args(), *want, "{desc}");
    }
}

#[test]
fn expand_env_cases() {
    let lookup = |n: &str| match n {
        "HOME" => Some("/root".to_string()),
        "PATH" => Some("/bin:%HOME%".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let cases: &[(&str, &str, &str)] = &[
        ("no percent", "plain", "plain"),
        ("single var", "%HOME%", "/root"),
        ("embedded", "a%HOME%b", "a/rootb"),
        ("two vars", "%HOME%:%PATH%", "/root:/bin:%HOME%"),
        ("expansion not rescanned", "%PATH%", "/bin:%HOME%"),
        ("unknown is empty", "x%NOPE%y", "xy"),
        ("known but empty", "x%EMPTY%y", "xy"),
        ("%% is literal", "100%%", "100%"),
        ("%% then var", "%%%HOME%", "%/root"),
        ("lone percent", "50%", "50%"),
        ("lone percent at start", "%HOME", "%HOME"),
        ("percent text then var", "50% of %HOME%", "50% of /root"),
        ("= in name is not a var", "%A=B%", "%A=B%"),
        ("empty value", "", ""),
    ];
    for (desc, value, want) in cases {
        assert_eq!(expand_env(value, lookup), *want, "{desc}: {value:?}");
    }
}

#[test]
fn opts_report() {
    let d = one("opts", "-u=bob -e=A=1 -e=B=2 -ir -s=2 -m=0 -t=5 x /bin/a");
    assert_eq!(
        d.opts(),
        vec![
            ("-e".to_string(), OptValue::List(s(&["A=1", "B=2"]))),
            ("-i".to_string(), OptValue::Flag),
            ("-r".to_string(), OptValue::Flag),
            ("-s".to_string(), OptValue::Value("2".into())),
            ("-t".to_string(), OptValue::Value("5".into())),
            ("-u".to_string(), OptValue::Value("bob".into())),
        ]
    );
    let d = one("opts all", "-d=/w -g=g -m=3 -n x");
    assert_eq!(
        d.opts(),
        vec![
            ("-d".to_string(), OptValue::Value("/w".into())),
            ("-g".to_string(), OptValue::Value("g".into())),
            ("-m".to_string(), OptValue::Value("3".into())),
            ("-n".to_string(), OptValue::Flag),
            ("-s".to_string(), OptValue::Value("1".into())),
        ]
    );
    assert_eq!(long_opt_name("-s"), Some("simultaneous"));
    assert_eq!(long_opt_name("-i"), Some("stdinallowed"));
    assert_eq!(long_opt_name("-x"), None);
    assert_eq!(long_opt_name("s"), None);
    assert_eq!(long_opt_name("-si"), None);
}

#[test]
fn retries_and_backoff_are_a_policy_and_bad_values_skip_the_line() {
    let d = one("-R and -B", "-R=3 -B=5 x /bin/false");
    assert_eq!(
        d.retry(),
        Some(RetryPolicy {
            retries: 3,
            base: 5
        })
    );
    let d = one("-B defaults to 10", "-retries=2 x /bin/false");
    assert_eq!(
        d.retry(),
        Some(RetryPolicy {
            retries: 2,
            base: 10
        })
    );
    assert_eq!(one("-R=0 is none", "-R=0 x /bin/false").retry(), None);
    let opts = one("opts", "-B=7 -R=1 x /bin/false").opts();
    assert!(
        opts.contains(&("-R".into(), OptValue::Value("1".into()))),
        "{opts:?}"
    );
    assert!(
        opts.contains(&("-B".into(), OptValue::Value("7".into()))),
        "{opts:?}"
    );
    assert_eq!(long_opt_name("-R"), Some("retries"));
    assert_eq!(long_opt_name("-B"), Some("backoff"));
    for (desc, text, names) in [
        ("too many retries", "-R=101 x /bin/true", "-R=101"),
        ("not a number", "-R=two x /bin/true", "-R=two"),
        ("no wait", "-B=0 x /bin/true", "-B=0"),
        ("over an hour", "-B=3601 x /bin/true", "-B=3601"),
        ("no value", "-R x /bin/true", "-R"),
    ] {
        let warning = rejected(desc, text);
        assert!(warning.message.contains(names), "{desc}: {warning}");
    }
}
