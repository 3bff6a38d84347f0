//! Small helpers for elements the server writes itself: minidom's builder
//! wants typed names, which is noise at every call site.

use minidom::{Element, ElementBuilder, IntoAttributeValue};

use super::Stanza;

/// An attribute name known at compile time; invalid names are a programming
/// error caught by the unit tests of each caller.
fn ncname(name: &str) -> minidom::rxml::NcName {
    minidom::rxml::NcName::try_from(name).expect("attribute names in this crate are valid")
}

pub trait BuilderExt {
    /// Sets attribute `name` (skipped when the value is `None`).
    fn a(self, name: &str, value: impl IntoAttributeValue) -> Self;
}

impl BuilderExt for ElementBuilder {
    fn a(self, name: &str, value: impl IntoAttributeValue) -> Self {
        self.attr(ncname(name), value)
    }
}

/// Sets or replaces an attribute on an element.
pub fn set_attr(el: &mut Element, name: &str, value: impl IntoAttributeValue) {
    el.attrs_mut().remove(&minidom::rxml::Namespace::NONE, name);
    el.set_attr(minidom::rxml::Namespace::NONE, ncname(name), value);
}

/// `<name xmlns=ns/>`.
pub fn el(name: &str, ns: &str) -> ElementBuilder {
    Element::builder(name, ns)
}

/// Shorthand for turning a built element into a routable stanza.
pub fn stanza(el: ElementBuilder) -> Stanza {
    Stanza::from_element(&el.build())
}
