//! Conditions that must all hold, evaluated over the elements their `*`
//! segments stand for: a `deny_if` entry's conditions (some element), or one
//! `require` condition (every element).
//!
//! Conditions whose paths are equal up to and including a `*` (as written)
//! are bound to the same element of that array. The conditions form a tree:
//! the root level holds the conditions without `*`, and a node for each
//! distinct prefix up to a `*` holds the conditions whose last `*` it is and
//! the nodes of the next `*`s below it. A level holds for one element when
//! its conditions hold for it (in written order, stopping at the first that
//! does not), then its nodes (in the order of their first condition). A node
//! holds, for the element its parent is at, when some element of its array
//! makes its level hold ([`Quantifier::Any`]), or every element does
//! ([`Quantifier::Every`]); the elements are tried in order and the first
//! that decides ends the node. An empty array has no element; a missing one
//! is one missing element, where every path below it is missing; a value
//! that is not an array is an evaluation error.
//!
//! Cost: a node reads its array once per element of its parent node, and
//! those arrays are distinct, so each array element is visited at most once
//! per node and each condition is tested at most once per element visited:
//! linear in the arguments, never a product of array lengths. The recursion
//! follows the tree, whose depth is at most `path::MAX_WILDCARDS`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::condition::{type_name, Condition, Context};
use super::path::{self, ArgsPath};

/// How the elements of a `*` are quantified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quantifier {
    /// Some element satisfies the conditions (`deny_if`).
    Any,
    /// Every element does (`require`).
    Every,
}

/// Conditions arranged by the `*`s they share.
#[derive(Debug)]
pub(crate) struct Conjunction {
    root: Level,
    /// Nodes in the tree (each has an id below this).
    nodes: usize,
    conditions: usize,
}

#[derive(Debug, Default)]
struct Level {
    conditions: Vec<Bound>,
    nodes: Vec<Node>,
}

/// A condition and its place in the written list.
#[derive(Debug)]
struct Bound {
    order: usize,
    condition: Condition,
}

/// The conditions bound to the elements of one array.
#[derive(Debug)]
struct Node {
    id: usize,
    /// Which `*` of a path this is (0 for the outermost).
    depth: usize,
    /// The keys from the enclosing element (or the arguments) to the array.
    keys: Vec<String>,
    /// The first condition below the node, in written order: its place, its
    /// path and its rule name the array when it is not one.
    first: usize,
    path: ArgsPath,
    rule: String,
    level: Level,
}

/// What the evaluation found.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    Holds,
    Fails,
    /// A type mismatch or a `*` on a value that is not an array: the rule
    /// is the condition's pointer.
    Error {
        rule: String,
        message: String,
    },
}

/// The outcome, and the element each `*` was at when it was decided.
#[derive(Debug)]
pub(crate) struct Verdict {
    pub outcome: Outcome,
    /// By node id; `None` for a missing array (or a node not reached).
    witness: Vec<Option<usize>>,
}

impl Conjunction {
    pub fn new(conditions: Vec<Condition>) -> Conjunction {
        let count = conditions.len();
        let mut root = LevelBuilder::default();
        let mut nodes = 0;
        for (order, condition) in conditions.into_iter().enumerate() {
            let mut level = &mut root;
            if let Some(path) = condition.args_path() {
                for depth in 0..path.wildcards() {
                    level = &mut level
                        .nodes
                        .entry(path.part(depth).to_vec())
                        .or_insert_with(|| {
                            nodes += 1;
                            NodeBuilder {
                                id: nodes - 1,
                                depth,
                                first: order,
                                path: path.clone(),
                                rule: condition.rule.clone(),
                                level: LevelBuilder::default(),
                            }
                        })
                        .level;
                }
            }
            level.conditions.push(Bound { order, condition });
        }
        Conjunction {
            root: root.freeze(),
            nodes,
            conditions: count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.conditions == 0
    }

    /// Whether the conditions hold for the request.
    pub fn evaluate(&self, quantifier: Quantifier, ctx: &Context<'_>) -> Verdict {
        let mut run = Run {
            ctx,
            quantifier,
            current: Vec::new(),
            witness: vec![None; self.nodes],
        };
        let outcome = match run.level(&self.root, ctx.arguments) {
            Ok(true) => Outcome::Holds,
            Ok(false) => Outcome::Fails,
            Err(Failure { rule, message }) => Outcome::Error { rule, message },
        };
        Verdict {
            outcome,
            witness: run.witness,
        }
    }

    /// `<place> is <value>` for the conditions (only those with a `*` when
    /// `wildcards_only`), in written order, at the elements the verdict was
    /// decided at.
    pub fn facts(&self, verdict: &Verdict, ctx: &Context<'_>, wildcards_only: bool) -> Vec<String> {
        let mut facts = Vec::new();
        let mut indices = Vec::new();
        let mut gather = Gather {
            ctx,
            witness: &verdict.witness,
            wildcards_only,
            indices: &mut indices,
            facts: &mut facts,
        };
        gather.level(&self.root);
        facts.sort_by_key(|(order, _)| *order);
        facts.into_iter().map(|(_, fact)| fact).collect()
    }
}

/// An evaluation error: the rule of the condition, and what went wrong.
struct Failure {
    rule: String,
    message: String,
}

struct Run<'r, 'a> {
    ctx: &'r Context<'a>,
    quantifier: Quantifier,
    /// The element each enclosing node is at (`None`: its array is missing).
    current: Vec<Option<usize>>,
    witness: Vec<Option<usize>>,
}

impl<'a> Run<'_, 'a> {
    fn level(&mut self, level: &Level, element: Option<&'a Value>) -> Result<bool, Failure> {
        for Bound { condition, .. } in &level.conditions {
            let found = condition.found(element, self.ctx);
            let current = &self.current;
            let holds = condition
                .test(found, &|| condition.place(current), self.ctx)
                .map_err(|message| Failure {
                    rule: condition.rule.clone(),
                    message,
                })?;
            if !holds {
                return Ok(false);
            }
        }
        for node in &level.nodes {
            if !self.node(node, element)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn node(&mut self, node: &Node, parent: Option<&'a Value>) -> Result<bool, Failure> {
        let items = match path::walk(parent, &node.keys) {
            None => return self.at(node, None, None),
            Some(Value::Array(items)) => items,
            Some(other) => {
                let current = &self.current;
                let place = node
                    .path
                    .render(node.depth + 1, |k| current.get(k).copied().flatten());
                return Err(Failure {
                    rule: node.rule.clone(),
                    message: format!("\"*\" needs an array but {place} is {}", type_name(other)),
                });
            }
        };
        for (index, element) in items.iter().enumerate() {
            let holds = self.at(node, Some(index), Some(element))?;
            match self.quantifier {
                Quantifier::Any if holds => return Ok(true),
                Quantifier::Every if !holds => return Ok(false),
                _ => {}
            }
        }
        Ok(self.quantifier == Quantifier::Every)
    }

    /// The node's level at one element (`None`: the array is missing).
    fn at(
        &mut self,
        node: &Node,
        index: Option<usize>,
        element: Option<&'a Value>,
    ) -> Result<bool, Failure> {
        if let Some(slot) = self.witness.get_mut(node.id) {
            *slot = index;
        }
        self.current.push(index);
        let holds = self.level(&node.level, element);
        self.current.pop();
        holds
    }
}

struct Gather<'g, 'c> {
    ctx: &'g Context<'c>,
    witness: &'g [Option<usize>],
    wildcards_only: bool,
    indices: &'g mut Vec<Option<usize>>,
    facts: &'g mut Vec<(usize, String)>,
}

impl Gather<'_, '_> {
    fn level(&mut self, level: &Level) {
        if !(self.wildcards_only && self.indices.is_empty()) {
            for Bound { order, condition } in &level.conditions {
                self.facts
                    .push((*order, condition.fact(self.ctx, self.indices)));
            }
        }
        for node in &level.nodes {
            self.indices
                .push(self.witness.get(node.id).copied().flatten());
            self.level(&node.level);
            self.indices.pop();
        }
    }
}

#[derive(Default)]
struct LevelBuilder {
    conditions: Vec<Bound>,
    nodes: BTreeMap<Vec<String>, NodeBuilder>,
}

struct NodeBuilder {
    id: usize,
    depth: usize,
    first: usize,
    path: ArgsPath,
    rule: String,
    level: LevelBuilder,
}

impl LevelBuilder {
    fn freeze(self) -> Level {
        let mut nodes: Vec<Node> = self
            .nodes
            .into_iter()
            .map(|(keys, node)| Node {
                id: node.id,
                depth: node.depth,
                keys,
                first: node.first,
                path: node.path,
                rule: node.rule,
                level: node.level.freeze(),
            })
            .collect();
        nodes.sort_by_key(|node| node.first);
        Level {
            conditions: self.conditions,
            nodes,
        }
    }
}
