//! The framer over whole streams, fed at once and byte by byte, and the
//! stream error each malformed input gets.

use super::*;

const OPEN: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>";

fn feed(f: &mut Framer, data: &[u8]) {
    f.buffer().extend_from_slice(data);
}

fn all(f: &mut Framer) -> Result<Vec<Frame>, FrameError> {
    let mut out = Vec::new();
    while let Some(frame) = f.next_frame()? {
        out.push(frame);
    }
    Ok(out)
}

#[test]
fn header_stanzas_and_close() {
    let mut f = Framer::new(10_000);
    feed(&mut f, OPEN);
    feed(
        &mut f,
        b"<message to='a@b'><body>x &amp; y</body></message> \n<presence/></stream:stream>",
    );
    let frames = all(&mut f).unwrap();
    assert_eq!(frames.len(), 4);
    match &frames[0] {
        Frame::Open(h) => {
            assert_eq!(h.to.as_deref(), Some("example.test"));
            assert_eq!(h.default_ns.as_deref(), Some("jabber:client"));
        }
        other => panic!("{other:?}"),
    }
    match &frames[1] {
        Frame::Element(s) => assert_eq!(s.to(), Some("a@b")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(frames[3], Frame::Close));
    assert!(f.is_closed());
}

#[test]
fn byte_by_byte_equals_whole() {
    let input = [OPEN, b"<iq type='get' id='1'><query xmlns='jabber:iq:roster'/><![CDATA[a<b>]]></iq><message><body a='>'>hi</body></message>"].concat();
    let mut f = Framer::new(10_000);
    let mut frames = Vec::new();
    for b in input {
        feed(&mut f, &[b]);
        frames.extend(all(&mut f).unwrap());
    }
    assert_eq!(frames.len(), 3);
}

#[test]
fn too_large_is_policy_violation() {
    let mut f = Framer::new(100);
    feed(&mut f, OPEN);
    feed(&mut f, b"<message><body>");
    feed(&mut f, &[b'a'; 200]);
    let err = all(&mut f).unwrap_err();
    assert_eq!(err.condition().name(), "policy-violation");
}

#[test]
fn the_limit_is_on_whole_elements_however_they_arrive() {
    let big = format!("<message><body>{}</body></message>", "a".repeat(200));
    for chunk in [1, 7, 1000] {
        let mut f = Framer::new(200);
        let mut frames = Vec::new();
        let mut err = None;
        'reads: for part in [OPEN, big.as_bytes()].concat().chunks(chunk) {
            feed(&mut f, part);
            loop {
                match f.next_frame() {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(e) => {
                        err = Some(e);
                        break 'reads;
                    }
                }
            }
        }
        assert_eq!(frames.len(), 1, "only the header, in reads of {chunk}");
        assert_eq!(err, Some(FrameError::TooLarge(200)), "in reads of {chunk}");
    }
}

#[test]
fn malformed_inputs() {
    let cases: &[(&[u8], &str)] = &[
        (b"<message><body></message></body>", "not-well-formed"),
        (b"<message a='1' a='2'/>", "not-well-formed"),
        (b"<message>&bogus;</message>", "not-well-formed"),
        (b"<!-- hi --><message/>", "restricted-xml"),
        (b"<message><?pi x?></message>", "restricted-xml"),
        (b"hello", "bad-format"),
        (b"<message><foo:bar/></message>", "not-well-formed"),
        (b"<message>\x01</message>", "not-well-formed"),
        (b"<message>\xff\xfe</message>", "not-well-formed"),
        (b"</stream:other>", "not-well-formed"),
    ];
    assert_errors(OPEN, cases);
}

#[test]
fn bad_headers() {
    let cases: &[(&[u8], &str)] = &[
        (b"<stream xmlns='jabber:client'>", "invalid-namespace"),
        (
            b"<stream:stream xmlns:stream='urn:wrong'>",
            "invalid-namespace",
        ),
        (
            b"<?xml version='1.0' encoding='UTF-16'?><stream:stream>",
            "unsupported-encoding",
        ),
        (b"<!DOCTYPE x><stream:stream>", "restricted-xml"),
        (b"junk", "not-well-formed"),
    ];
    assert_errors(b"", cases);
}

/// Each input, after `before`, ends the stream with the named condition.
fn assert_errors(before: &[u8], cases: &[(&[u8], &str)]) {
    for (input, want) in cases {
        let mut f = Framer::new(10_000);
        feed(&mut f, before);
        feed(&mut f, input);
        let got = all(&mut f).map(|_| ()).unwrap_err();
        assert_eq!(
            got.condition().name(),
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn reset_starts_a_new_stream() {
    let mut f = Framer::new(10_000);
    feed(&mut f, OPEN);
    assert!(matches!(f.next_frame().unwrap(), Some(Frame::Open(_))));
    f.reset();
    feed(&mut f, OPEN);
    assert!(matches!(f.next_frame().unwrap(), Some(Frame::Open(_))));
}
