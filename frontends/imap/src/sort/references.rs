//! THREAD=REFERENCES (RFC 5256 section 3): threads built from Message-ID,
//! References and In-Reply-To, then threads with the same base subject
//! merged.
//!
//! The forest is an arena of nodes linked by index, and every walk over it
//! uses an explicit stack, because a reply chain can be as deep as the
//! mailbox is large. The steps below are numbered as in the RFC.

use super::base_subject::BaseSubject;
use super::thread::ThreadNode;
use super::{casemap, SortKeys};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

/// Threads the matching messages (indexes into `keys`) by their references,
/// per THREAD=REFERENCES. A referenced message that is not among the
/// matching ones becomes a dummy, kept only where it holds siblings
/// together at the top level.
pub fn thread_references(keys: &[SortKeys], matching: &[usize]) -> Vec<ThreadNode> {
    let (mut forest, roots) = Forest::linked(keys, matching);
    let roots = forest.sort_top_level(roots);
    let roots = forest.merge_by_subject(roots);
    let roots = forest.sort_all(roots);
    forest.into_threads(&roots)
}

/// A node's position in [`Forest::nodes`].
pub(super) type NodeId = usize;

/// A message, or a dummy standing for a referenced message that is absent.
struct Node {
    /// The message's view index; `None` for a dummy.
    message: Option<usize>,
    /// The parent while links are made (step 1), to refuse loops; not kept
    /// up to date afterwards.
    parent: Option<NodeId>,
    children: Vec<NodeId>,
}

/// The nodes of one THREAD run.
pub(super) struct Forest<'a> {
    keys: &'a [SortKeys],
    nodes: Vec<Node>,
}

/// What step 5 needs to know about a top-level thread's subject.
struct ThreadSubject {
    /// The base subject in i;unicode-casemap form.
    key: String,
    /// Whether the head message's subject was marked as a reply or forward
    /// (never for a dummy).
    is_reply: bool,
}

impl<'a> Forest<'a> {
    /// Steps 1 to 3 for the matching messages (indexes into `keys`): the
    /// forest and its top-level nodes, not yet in any order.
    pub(super) fn linked(keys: &'a [SortKeys], matching: &[usize]) -> (Forest<'a>, Vec<NodeId>) {
        let mut forest = Forest { keys, nodes: Vec::with_capacity(matching.len()) };
        let roots = forest.link_references(matching);
        let roots = forest.prune_dummies(roots);
        (forest, roots)
    }

    /// Steps 1 and 2: links messages along their references and returns the
    /// nodes left without a parent.
    fn link_references(&mut self, matching: &[usize]) -> Vec<NodeId> {
        let mut in_order = matching.to_vec();
        in_order.sort_unstable();
        let mut by_id: HashMap<String, NodeId> = HashMap::new();
        let message_nodes: Vec<NodeId> = in_order
            .iter()
            .map(|&m| {
                let node = self.add(Some(m));
                // A duplicated Message-ID belongs to the lowest sequence
                // number; the other holders are threaded as if they had none.
                if let Some(id) = self.keys[m].message_id.as_deref().and_then(message_id) {
                    by_id.entry(id).or_insert(node);
                }
                node
            })
            .collect();
        for (&m, &node) in in_order.iter().zip(&message_nodes) {
            // 1A: each reference is the parent of the next, unless the next
            // already has a parent (References may be truncated or reordered).
            let mut previous = None;
            for id in parent_ids(&self.keys[m]) {
                let referenced = match by_id.entry(id) {
                    Entry::Occupied(known) => *known.get(),
                    Entry::Vacant(unknown) => *unknown.insert(self.add(None)),
                };
                if let Some(parent) = previous {
                    if self.nodes[referenced].parent.is_none() && !self.would_loop(parent, referenced) {
                        self.link(parent, referenced);
                    }
                }
                previous = Some(referenced);
            }
            // 1B: the message's own last reference is its parent, replacing
            // any parent guessed from other messages' references.
            self.unlink(node);
            if let Some(parent) = previous {
                if !self.would_loop(parent, node) {
                    self.link(parent, node);
                }
            }
        }
        (0..self.nodes.len()).filter(|&n| self.nodes[n].parent.is_none()).collect()
    }

    /// Step 3: removes dummies without children and splices the children of
    /// the others into their place, except that a top-level dummy stays when
    /// it holds two or more children.
    fn prune_dummies(&mut self, roots: Vec<NodeId>) -> Vec<NodeId> {
        // Children first, so a dummy's children are dummy-free when it goes.
        for node in self.post_order(&roots) {
            let children = std::mem::take(&mut self.nodes[node].children);
            let mut kept = Vec::with_capacity(children.len());
            for child in children {
                if self.is_dummy(child) {
                    kept.append(&mut self.nodes[child].children);
                } else {
                    kept.push(child);
                }
            }
            self.nodes[node].children = kept;
        }
        let mut top = Vec::with_capacity(roots.len());
        for root in roots {
            match (self.nodes[root].message, self.nodes[root].children.as_slice()) {
                (None, []) => {}
                (None, [only]) => top.push(*only),
                _ => top.push(root),
            }
        }
        top
    }

    /// Step 4: orders the top level by sent date, a dummy by its oldest
    /// child.
    fn sort_top_level(&mut self, mut roots: Vec<NodeId>) -> Vec<NodeId> {
        for &root in &roots {
            if self.is_dummy(root) {
                self.sort_children(root);
            }
        }
        self.sort_siblings(&mut roots);
        roots
    }

    /// Step 5: merges top-level threads whose (non-empty) base subjects are
    /// equal. The subject table keeps one thread per subject, preferring a
    /// dummy, then a thread whose head is not a reply or forward.
    fn merge_by_subject(&mut self, roots: Vec<NodeId>) -> Vec<NodeId> {
        let subjects: Vec<Option<ThreadSubject>> = roots.iter().map(|&root| self.thread_subject(root)).collect();
        let mut table: HashMap<&str, (NodeId, bool)> = HashMap::new();
        for (&root, subject) in roots.iter().zip(&subjects) {
            let Some(subject) = subject else { continue };
            match table.entry(&subject.key) {
                Entry::Vacant(slot) => {
                    slot.insert((root, subject.is_reply));
                }
                Entry::Occupied(mut slot) => {
                    let (held, held_is_reply) = *slot.get();
                    if !self.is_dummy(held) && (self.is_dummy(root) || (held_is_reply && !subject.is_reply)) {
                        slot.insert((root, subject.is_reply));
                    }
                }
            }
        }
        let mut merged = HashSet::new();
        let mut new_roots = Vec::new();
        for (&root, subject) in roots.iter().zip(&subjects) {
            let Some(subject) = subject else { continue };
            let Some(&(held, held_is_reply)) = table.get(subject.key.as_str()) else { continue };
            if held == root || merged.contains(&root) {
                continue;
            }
            merged.insert(root);
            match (self.is_dummy(held), self.is_dummy(root)) {
                (true, true) => {
                    let mut children = std::mem::take(&mut self.nodes[root].children);
                    self.nodes[held].children.append(&mut children);
                }
                (true, false) => self.nodes[held].children.push(root),
                (false, _) if subject.is_reply && !held_is_reply => self.nodes[held].children.push(root),
                (false, _) => {
                    let dummy = self.add(None);
                    self.nodes[dummy].children = vec![held, root];
                    merged.insert(held);
                    table.insert(&subject.key, (dummy, false));
                    new_roots.push(dummy);
                }
            }
        }
        roots.into_iter().filter(|root| !merged.contains(root)).chain(new_roots).collect()
    }

    /// Step 6: orders every set of siblings by sent date, deepest first so
    /// a dummy is placed by its oldest child.
    pub(super) fn sort_all(&mut self, mut roots: Vec<NodeId>) -> Vec<NodeId> {
        for node in self.post_order(&roots) {
            self.sort_children(node);
        }
        self.sort_siblings(&mut roots);
        roots
    }

    /// The finished threads, in the shape THREAD responses are written from.
    pub(super) fn into_threads(self, roots: &[NodeId]) -> Vec<ThreadNode> {
        let mut built: Vec<Option<ThreadNode>> = (0..self.nodes.len()).map(|_| None).collect();
        for node in self.post_order(roots) {
            let children = self.nodes[node].children.iter().filter_map(|&child| built[child].take()).collect();
            built[node] = Some(ThreadNode { message: self.nodes[node].message, children });
        }
        roots.iter().filter_map(|&root| built[root].take()).collect()
    }

    fn add(&mut self, message: Option<usize>) -> NodeId {
        self.nodes.push(Node { message, parent: None, children: Vec::new() });
        self.nodes.len() - 1
    }

    /// The message of a node: its view index, `None` for a dummy.
    pub(super) fn message(&self, node: NodeId) -> Option<usize> {
        self.nodes[node].message
    }

    fn is_dummy(&self, node: NodeId) -> bool {
        self.nodes[node].message.is_none()
    }

    fn link(&mut self, parent: NodeId, child: NodeId) {
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    fn unlink(&mut self, child: NodeId) {
        if let Some(parent) = self.nodes[child].parent.take() {
            let siblings = &mut self.nodes[parent].children;
            if let Some(at) = siblings.iter().position(|&c| c == child) {
                // Sibling order is settled by the sorts later.
                siblings.swap_remove(at);
            }
        }
    }

    /// Whether making `parent` the parent of `child` would close a loop,
    /// i.e. whether `parent` is `child` or one of its descendants.
    fn would_loop(&self, parent: NodeId, child: NodeId) -> bool {
        if parent == child {
            return true;
        }
        // The usual case (a new message, not yet anyone's parent) is cheap.
        if self.nodes[child].children.is_empty() {
            return false;
        }
        let mut ancestor = self.nodes[parent].parent;
        while let Some(node) = ancestor {
            if node == child {
                return true;
            }
            ancestor = self.nodes[node].parent;
        }
        false
    }

    /// The nodes under `roots`, every node after its children.
    pub(super) fn post_order(&self, roots: &[NodeId]) -> Vec<NodeId> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(NodeId, bool)> = roots.iter().rev().map(|&root| (root, false)).collect();
        while let Some((node, children_done)) = stack.pop() {
            if children_done {
                order.push(node);
            } else {
                stack.push((node, true));
                stack.extend(self.nodes[node].children.iter().rev().map(|&child| (child, false)));
            }
        }
        order
    }

    fn sort_children(&mut self, node: NodeId) {
        let mut children = std::mem::take(&mut self.nodes[node].children);
        self.sort_siblings(&mut children);
        self.nodes[node].children = children;
    }

    fn sort_siblings(&self, siblings: &mut [NodeId]) {
        siblings.sort_unstable_by_key(|&node| self.date_order(node));
    }

    /// The sort position of a node: its message's sent date and sequence
    /// number; for a dummy, those of its first child.
    fn date_order(&self, mut node: NodeId) -> (i64, usize) {
        loop {
            match (self.nodes[node].message, self.nodes[node].children.first()) {
                (Some(message), _) => return self.keys[message].date_order(message),
                (None, Some(&first)) => node = first,
                (None, None) => return (i64::MAX, usize::MAX),
            }
        }
    }

    /// The subject of a top-level thread (step 5.B.i): its head's base
    /// subject, or its first child's for a dummy; `None` when empty.
    fn thread_subject(&self, root: NodeId) -> Option<ThreadSubject> {
        let node = &self.nodes[root];
        let message = node.message.or_else(|| node.children.first().and_then(|&first| self.nodes[first].message))?;
        let base = BaseSubject::extract(self.keys[message].subject.as_deref().unwrap_or(""));
        let is_reply = node.message.is_some() && base.is_reply_or_forward;
        (!base.text.is_empty()).then(|| ThreadSubject { key: casemap(&base.text), is_reply })
    }
}

/// The message ids a message names as its ancestors, oldest first: its
/// References, or else the first id of its In-Reply-To.
fn parent_ids(keys: &SortKeys) -> Vec<String> {
    let references: Vec<String> = keys.references.iter().filter_map(|r| message_id(r)).collect();
    if !references.is_empty() {
        return references;
    }
    keys.in_reply_to.as_deref().and_then(message_id).into_iter().collect()
}

/// The first `<...>` message id in a header value, white space removed;
/// `None` when there is no non-empty one. Ids compare case-sensitively.
fn message_id(raw: &str) -> Option<String> {
    let (_, after_open) = raw.split_once('<')?;
    let (inside, _) = after_open.split_once('>')?;
    let id: String = inside.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    (!id.is_empty()).then(|| format!("<{id}>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::test_support::{all, message, render};

    /// A message as (Message-ID, References, subject, sent date).
    type Message = (&'static str, &'static [&'static str], &'static str, i64);
    /// Messages, and their threads written with sequence numbers.
    type Case = (&'static [Message], &'static str);

    fn threads(keys: &[SortKeys]) -> String {
        render(&thread_references(keys, &all(keys)))
    }

    fn check(cases: &[Case]) {
        for &(messages, expected) in cases {
            let keys: Vec<SortKeys> = messages.iter().map(|&(id, refs, s, d)| message(id, refs, s, d)).collect();
            assert_eq!(threads(&keys), expected, "{messages:?}");
        }
    }

    #[test]
    fn message_ids() {
        let cases: &[(&str, Option<&str>)] = &[
            ("<a@b>", Some("<a@b>")),
            ("  <a@b>  (comment)", Some("<a@b>")),
            ("Your message of Monday <a@b> <c@d>", Some("<a@b>")),
            ("< a@\r\n b >", Some("<a@b>")),
            ("<>", None),
            ("< >", None),
            ("a@b", None),
            ("<a@b", None),
            ("", None),
        ];
        for &(raw, id) in cases {
            assert_eq!(message_id(raw).as_deref(), id, "{raw:?}");
        }
    }

    #[test]
    fn in_reply_to_is_used_only_without_references() {
        let mut reply = message("<r>", &[], "r", 3);
        reply.in_reply_to = Some("<b> <a>".into());
        assert_eq!(parent_ids(&reply), ["<b>"]);
        reply.references = vec!["<a>".into(), "bogus".into(), "<c>".into()];
        assert_eq!(parent_ids(&reply), ["<a>", "<c>"]);
    }

    #[test]
    fn reply_chains_and_branches() {
        let cases: &[Case] = &[
            (&[], ""),
            (&[("<a>", &[], "x", 1)], "(1)"),
            (&[("<a>", &[], "a", 1), ("<b>", &["<a>"], "b", 2), ("<c>", &["<a>", "<b>"], "c", 3)], "(1 2 3)"),
            (&[("<a>", &[], "a", 1), ("<b>", &["<a>"], "b", 2), ("<c>", &["<a>"], "c", 3)], "(1 (2)(3))"),
            // Children come oldest first whatever their sequence order.
            (&[("<a>", &[], "a", 1), ("<b>", &["<a>"], "b", 9), ("<c>", &["<a>"], "c", 3)], "(1 (3)(2))"),
            // Top-level threads come by the date of their head.
            (&[("<a>", &[], "a", 5), ("<b>", &[], "b", 1), ("<c>", &["<a>"], "c", 2)], "(2)(1 3)"),
            // A reply that arrived before its parent.
            (&[("<b>", &["<a>"], "b", 2), ("<a>", &[], "a", 1)], "(2 1)"),
            // Message-ID comparisons are case-sensitive.
            (&[("<a>", &[], "a", 1), ("<b>", &["<A>"], "b", 2)], "(1)(2)"),
        ];
        check(cases);
    }

    #[test]
    fn missing_parents_become_dummies_then_are_pruned() {
        let cases: &[Case] = &[
            // A lone child of a missing parent takes its place.
            (&[("<b>", &["<x>"], "b", 1)], "(1)"),
            // A missing parent with two children stays, as a dummy.
            (&[("<b>", &["<x>"], "b", 1), ("<c>", &["<x>"], "c", 2)], "((1)(2))"),
            // A missing message in the middle of a chain is spliced out.
            (&[("<a>", &[], "a", 1), ("<c>", &["<a>", "<x>"], "c", 2)], "(1 2)"),
            (&[("<a>", &[], "a", 1), ("<c>", &["<a>", "<x>"], "c", 2), ("<d>", &["<a>", "<x>"], "d", 3)], "(1 (2)(3))"),
            // Nested missing messages under a missing root.
            (&[("<c>", &["<x>", "<y>"], "c", 1), ("<d>", &["<x>", "<z>"], "d", 2)], "((1)(2))"),
            // A dummy is placed by its oldest child.
            (&[("<a>", &[], "a", 5), ("<b>", &["<x>"], "b", 9), ("<c>", &["<x>"], "c", 3)], "((3)(2))(1)"),
        ];
        check(cases);
    }

    #[test]
    fn messages_outside_the_search_are_missing() {
        let keys = vec![message("<a>", &[], "a", 1), message("<b>", &["<a>"], "b", 2), message("<c>", &["<a>"], "c", 3)];
        assert_eq!(render(&thread_references(&keys, &[1, 2])), "((2)(3))");
        assert_eq!(render(&thread_references(&keys, &[2, 0])), "(1 3)");
    }

    #[test]
    fn loops_and_self_references_are_refused() {
        let cases: &[Case] = &[
            (&[("<a>", &["<a>"], "a", 1)], "(1)"),
            // Each names the other as parent: the link made first stands.
            (&[("<a>", &["<b>"], "a", 1), ("<b>", &["<a>"], "b", 2)], "(2 1)"),
            // A loop inside one References list.
            (&[("<c>", &["<x>", "<y>", "<x>"], "c", 1)], "(1)"),
            (&[("<a>", &[], "a", 1), ("<c>", &["<a>", "<c>", "<a>"], "c", 2)], "(1 2)"),
            (&[("<a>", &["<c>"], "a", 1), ("<b>", &["<a>"], "b", 2), ("<c>", &["<b>"], "c", 3)], "(3 1 2)"),
        ];
        check(cases);
    }

    #[test]
    fn links_follow_the_rfc_precedence() {
        let cases: &[Case] = &[
            // 1A: a parent found earlier is not replaced by a later list.
            (
                &[("<a>", &[], "a", 1), ("<b>", &[], "b", 2), ("<d>", &["<a>", "<x>"], "d", 3), ("<e>", &["<b>", "<x>"], "e", 4)],
                "(1 (3)(4))(2)",
            ),
            // 1B: a message's own References override a guessed parent.
            (&[("<a>", &["<x>", "<b>"], "a", 2), ("<b>", &[], "b", 1)], "(2 1)"),
            (&[("<a>", &["<x>", "<b>"], "a", 2), ("<b>", &["<y>"], "b", 1)], "(2 1)"),
            // Duplicate Message-IDs: only the first holder is referenced.
            (&[("<a>", &[], "a", 1), ("<a>", &[], "b", 2), ("<c>", &["<a>"], "c", 3)], "(1 3)(2)"),
            // Messages without any Message-ID thread alone.
            (&[("", &[], "a", 1), ("", &[], "b", 2)], "(1)(2)"),
        ];
        check(cases);
    }

    #[test]
    fn threads_with_the_same_subject_are_merged() {
        let cases: &[Case] = &[
            // A reply joins the original's thread as a child.
            (&[("<a>", &[], "hello", 1), ("<b>", &["<x>"], "Re: hello", 2)], "(1 2)"),
            // The original is preferred even when the reply is older.
            (&[("<b>", &[], "Re: hello", 1), ("<a>", &[], "hello", 2)], "(2 1)"),
            // Two originals get a dummy parent.
            (&[("<a>", &[], "hello", 1), ("<b>", &[], "HELLO", 2)], "((1)(2))"),
            // Two replies too.
            (&[("<a>", &[], "Re: hello", 1), ("<b>", &[], "Fwd: hello", 2)], "((1)(2))"),
            // A dummy holds on to the thread; others join as its children.
            (&[("<a>", &[], "hi", 1), ("<b>", &["<x>"], "Re: hi", 2), ("<c>", &["<x>"], "Re: hi", 3)], "((1)(2)(3))"),
            // Two dummies become one.
            (
                &[("<b>", &["<x>"], "hi", 1), ("<c>", &["<x>"], "hi", 2), ("<d>", &["<y>"], "Re: hi", 3), ("<e>", &["<y>"], "hi", 4)],
                "((1)(2)(3)(4))",
            ),
            // Empty subjects are never merged.
            (&[("<a>", &[], "", 1), ("<b>", &[], "Re:", 2)], "(1)(2)"),
            // Subjects differing beyond the base stay apart.
            (&[("<a>", &[], "hello", 1), ("<b>", &[], "Re: hello there", 2)], "(1)(2)"),
            // Replies with children keep them when they join.
            (&[("<a>", &[], "hi", 1), ("<b>", &[], "Re: hi", 2), ("<c>", &["<b>"], "Re: hi", 3)], "(1 2 3)"),
        ];
        check(cases);
    }

    #[test]
    fn rfc_style_mailbox() {
        // A small list archive: two discussions, a forwarded message, a reply
        // to a message not in the mailbox, and a late reply arriving first.
        let keys = vec![
            message("<1@l>", &[], "Meeting", 10),
            message("<2@l>", &["<1@l>"], "Re: Meeting", 20),
            message("<3@l>", &[], "[team] Lunch?", 15),
            message("<4@l>", &["<1@l>", "<2@l>"], "Re: [team] Re: Meeting", 30),
            message("<5@l>", &["<3@l>"], "Re: Lunch?", 25),
            message("<6@l>", &["<1@l>"], "Re: Meeting", 22),
            message("<7@l>", &["<gone@l>"], "Re: Budget", 5),
            message("<8@l>", &[], "Fwd: Meeting", 40),
            message("<9@l>", &["<3@l>", "<5@l>"], "Re: Lunch?", 35),
        ];
        assert_eq!(threads(&keys), "(7)(1 (2 4)(6)(8))(3 5 9)");
        let uids = [101, 102, 103, 104, 105, 106, 107, 108, 109];
        let mut out = Vec::new();
        crate::sort::write_threads(&mut out, &thread_references(&keys, &all(&keys)), |i| uids[i]);
        assert_eq!(out, b"(107)(101 (102 104)(106)(108))(103 105 109)");
    }

    #[test]
    fn internal_date_stands_in_for_a_missing_date() {
        let mut keys = vec![message("<a>", &[], "a", 0), message("<b>", &[], "b", 50)];
        keys[0].sent = None;
        keys[0].arrival = 100;
        assert_eq!(threads(&keys), "(2)(1)");
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let n = 100_000;
        let keys: Vec<SortKeys> = (0..n)
            .map(|i| {
                let parent = (i > 0).then(|| format!("<{}>", i - 1));
                let references: Vec<&str> = parent.as_deref().into_iter().collect();
                message(&format!("<{i}>"), &references, "Re: long", i as i64)
            })
            .collect();
        let text = threads(&keys);
        assert!(text.starts_with("(1 2 3 "));
        assert!(text.ends_with(" 99999 100000)"));
    }
}
