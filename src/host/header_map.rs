//! A header map as the proxy hands it over, held as one string of names and
//! values plus their end offsets: two allocations whatever the header count.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderMap {
    text: String,
    /// Per header, where its name ends and where its value ends in `text`;
    /// each name starts where the previous value ended.
    ends: Vec<(usize, usize)>,
}

impl HeaderMap {
    pub fn with_capacity(headers: usize, bytes: usize) -> HeaderMap {
        HeaderMap {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(headers),
        }
    }

    pub fn push(&mut self, name: &str, value: &str) {
        self.text.push_str(name);
        let name_end = self.text.len();
        self.text.push_str(value);
        self.ends.push((name_end, self.text.len()));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every (name, value), in the order the proxy gave them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let name = self.text.get(start..name_end).unwrap_or("");
            let value = self.text.get(name_end..value_end).unwrap_or("");
            start = value_end;
            (name, value)
        })
    }

    /// The value of the `index`th header.
    pub fn value(&self, index: usize) -> Option<&str> {
        let &(name_end, value_end) = self.ends.get(index)?;
        self.text.get(name_end..value_end)
    }

    /// Every value of the header `name`, compared in any case.
    pub fn get_all<'m, 'n>(&'m self, name: &'n str) -> impl Iterator<Item = &'m str> + use<'m, 'n> {
        self.iter()
            .filter(move |(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The first value of the header `name`, compared in any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for HeaderMap {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> HeaderMap {
        let mut map = HeaderMap::default();
        for (name, value) in pairs {
            map.push(name.as_ref(), value.as_ref());
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_duplicates_and_empty_values() {
        let map: HeaderMap = [(":path", "/mcp"), ("x-a", ""), ("X-A", "2"), ("é", "ü")]
            .into_iter()
            .collect();
        assert_eq!(map.len(), 4);
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            vec![(":path", "/mcp"), ("x-a", ""), ("X-A", "2"), ("é", "ü")]
        );
        assert_eq!(map.get("x-a"), Some(""));
        assert_eq!(map.get_all("X-a").collect::<Vec<_>>(), vec!["", "2"]);
        assert_eq!(map.get("É"), None);
        assert_eq!(map.get("é"), Some("ü"));
        assert_eq!(map.get("missing"), None);
        assert_eq!(map.value(2), Some("2"));
        assert_eq!(map.value(4), None);
        assert!(HeaderMap::default().is_empty());
    }
}
