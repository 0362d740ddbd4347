//! A small line-fitting printer: documents made of text, groups and line
//! breaks, printed the way prettier prints TypeScript at 80 columns (a
//! group is printed on one line when it fits, else each of its lines
//! breaks; a group holding a hard line always breaks; trailing spaces are
//! trimmed at every newline). The TypeScript renderer builds its output
//! with it so that what fits on a line matches the Supabase CLI's
//! formatted output.

/// Line width the printer fits groups into.
pub const WIDTH: usize = 80;

/// A document.
#[derive(Debug, Clone)]
pub enum Doc {
    Text(String),
    Concat(Vec<Doc>),
    /// Printed flat when it fits; `broken` when it holds a hard line.
    Group {
        doc: Box<Doc>,
        broken: bool,
    },
    /// Its lines are indented two more columns.
    Indent(Box<Doc>),
    /// Its lines are indented `n` more columns.
    Align(usize, Box<Doc>),
    /// A space when flat, a newline when broken.
    Line,
    /// Nothing when flat, a newline when broken.
    SoftLine,
    /// Always a newline.
    HardLine,
    /// The first document when broken, the second when flat.
    IfBreak(Box<Doc>, Box<Doc>),
}

pub fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

pub fn concat(parts: Vec<Doc>) -> Doc {
    Doc::Concat(parts)
}

pub fn indent(d: Doc) -> Doc {
    Doc::Indent(Box::new(d))
}

pub fn align(n: usize, d: Doc) -> Doc {
    Doc::Align(n, Box::new(d))
}

pub fn if_break(broken: Doc, flat: Doc) -> Doc {
    Doc::IfBreak(Box::new(broken), Box::new(flat))
}

/// A group, marked broken when it holds a hard line.
pub fn group(d: Doc) -> Doc {
    let broken = has_hard_line(&d);
    Doc::Group {
        doc: Box::new(d),
        broken,
    }
}

/// `parts` with `sep` between each two.
pub fn join(sep: &Doc, parts: Vec<Doc>) -> Vec<Doc> {
    let mut out = Vec::with_capacity(parts.len() * 2);
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(sep.clone());
        }
        out.push(p);
    }
    out
}

/// Whether `d` holds a hard line (nested groups answer from their mark).
fn has_hard_line(d: &Doc) -> bool {
    match d {
        Doc::HardLine => true,
        Doc::Group { broken, .. } => *broken,
        Doc::Concat(v) => v.iter().any(has_hard_line),
        Doc::Indent(d) | Doc::Align(_, d) => has_hard_line(d),
        Doc::IfBreak(b, f) => has_hard_line(b) || has_hard_line(f),
        Doc::Text(_) | Doc::Line | Doc::SoftLine => false,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

type Cmd<'a> = (usize, Mode, &'a Doc);

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Whether `next` printed flat fits in `room` columns, with the rest of the
/// document (`rest`, printed in its own modes) up to its next line break.
fn fits(next: Cmd<'_>, rest: &[Cmd<'_>], room: usize) -> bool {
    let mut room = room as isize;
    let mut stack: Vec<(Mode, &Doc)> = vec![(next.1, next.2)];
    let mut rest_index = rest.len();
    loop {
        let (mode, doc) = match stack.pop() {
            Some(c) => c,
            None => {
                if rest_index == 0 {
                    return true;
                }
                rest_index -= 1;
                let (_, m, d) = rest[rest_index];
                (m, d)
            }
        };
        match doc {
            Doc::Text(s) => {
                room -= width(s) as isize;
                if room < 0 {
                    return false;
                }
            }
            Doc::Concat(v) => {
                for d in v.iter().rev() {
                    stack.push((mode, d));
                }
            }
            Doc::Indent(d) | Doc::Align(_, d) => stack.push((mode, d)),
            Doc::Group { doc, broken } => {
                stack.push((if *broken { Mode::Break } else { mode }, doc));
            }
            Doc::IfBreak(b, f) => stack.push((mode, if mode == Mode::Break { b } else { f })),
            Doc::Line => {
                if mode == Mode::Break {
                    return true;
                }
                room -= 1;
                if room < 0 {
                    return false;
                }
            }
            Doc::SoftLine => {
                if mode == Mode::Break {
                    return true;
                }
            }
            Doc::HardLine => return true,
        }
    }
}

fn newline(out: &mut String, indent: usize) {
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Prints `doc` at [`WIDTH`] columns.
pub fn print(doc: &Doc) -> String {
    let mut out = String::new();
    let mut pos = 0usize;
    let mut stack: Vec<Cmd<'_>> = vec![(0, Mode::Break, doc)];
    while let Some((ind, mode, doc)) = stack.pop() {
        match doc {
            Doc::Text(s) => {
                out.push_str(s);
                pos += width(s);
            }
            Doc::Concat(v) => {
                for d in v.iter().rev() {
                    stack.push((ind, mode, d));
                }
            }
            Doc::Indent(d) => stack.push((ind + 2, mode, d)),
            Doc::Align(n, d) => stack.push((ind + n, mode, d)),
            Doc::Group { doc, broken } => {
                let m = if *broken {
                    Mode::Break
                } else if mode == Mode::Flat
                    || fits((ind, Mode::Flat, doc), &stack, WIDTH.saturating_sub(pos))
                {
                    Mode::Flat
                } else {
                    Mode::Break
                };
                stack.push((ind, m, doc));
            }
            Doc::IfBreak(b, f) => stack.push((ind, mode, if mode == Mode::Break { b } else { f })),
            Doc::Line if mode == Mode::Flat => {
                out.push(' ');
                pos += 1;
            }
            Doc::SoftLine if mode == Mode::Flat => {}
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                newline(&mut out, ind);
                pos = ind;
            }
        }
    }
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(members: Vec<Doc>) -> Doc {
        let sep = concat(vec![if_break(text(""), text(";")), Doc::Line]);
        group(concat(vec![
            text("{"),
            indent(concat(
                std::iter::once(Doc::Line)
                    .chain(join(&sep, members))
                    .collect(),
            )),
            Doc::Line,
            text("}"),
        ]))
    }

    #[test]
    fn groups_fit_or_break() {
        let short = object(vec![text("a: number"), text("b: string")]);
        assert_eq!(print(&short), "{ a: number; b: string }");
        let long = object(vec![
            text(format!("a: {}", "x".repeat(40))),
            text(format!("b: {}", "y".repeat(40))),
        ]);
        assert_eq!(
            print(&long),
            format!("{{\n  a: {}\n  b: {}\n}}", "x".repeat(40), "y".repeat(40))
        );
    }

    #[test]
    fn hard_lines_break_every_enclosing_group() {
        let d = object(vec![concat(vec![
            text("r: {"),
            indent(concat(vec![Doc::HardLine, text("x: 1")])),
            Doc::HardLine,
            text("}"),
        ])]);
        assert_eq!(print(&d), "{\n  r: {\n    x: 1\n  }\n}");
    }

    #[test]
    fn trailing_spaces_are_trimmed() {
        let d = concat(vec![
            text("key:"),
            group(indent(concat(vec![
                Doc::Line,
                text("| ".to_string() + &"a".repeat(90)),
            ]))),
        ]);
        assert_eq!(print(&d), format!("key:\n  | {}", "a".repeat(90)));
    }
}
