"""Backward-compatibility check between a checked-in JSON Schema snapshot and the model.

A consumer built against the old schema must still read every message the new model
allows. So: no property may disappear or change type, no optional property may become
required, no enum value may be removed, and no discriminated variant may vanish. Adding
optional properties, variants or enum values is fine."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _resolve(node: Schema, root: Schema) -> Schema:
    ref = node.get("$ref")
    if not ref:
        return node
    name = ref.rsplit("/", 1)[-1]
    return _resolve(root.get("$defs", {}).get(name, {}), root)


def _type_signature(node: Schema, root: Schema) -> Any:
    node = _resolve(node, root)
    if "anyOf" in node or "oneOf" in node:
        variants = node.get("anyOf") or node.get("oneOf") or []
        return ("union", sorted(str(_type_signature(v, root)) for v in variants))
    if "const" in node:
        return ("const", node["const"])
    if "enum" in node:
        return ("enum",)
    return ("type", node.get("type"), node.get("format"))


def _variant_id(node: Schema, root: Schema) -> str:
    """Discriminated variants are told apart by their constant tag (e.g. `type`), other
    object variants by title, anything else by its type."""
    resolved = _resolve(node, root)
    for prop in resolved.get("properties", {}).values():
        if "const" in prop:
            return f"const:{prop['const']}"
    if resolved.get("type") == "object" and "title" in resolved:
        return f"object:{resolved['title']}"
    return str(_type_signature(node, root))


def breaking_changes(old: Schema, new: Schema, path: str = "$") -> list[str]:
    return _compare(old, new, old, new, path)


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str) -> list[str]:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    if "enum" in old:
        removed = set(map(str, old["enum"])) - set(map(str, new.get("enum", [])))
        if removed:
            problems.append(f"{path}: enum values removed: {sorted(removed)}")
        return problems
    old_variants = old.get("oneOf") or old.get("anyOf")
    if old_variants is not None:
        return problems + _compare_variants(old_variants, new, old_root, new_root, path)
    if _type_signature(old, old_root) != _type_signature(new, new_root):
        return [f"{path}: type changed"]
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: property removed")
            continue
        problems += _compare(old_prop, new_props[name], old_root, new_root, f"{path}.{name}")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    problems += [f"{path}.{name}: became required" for name in sorted(newly_required)]
    if "items" in old and "items" in new:
        problems += _compare(old["items"], new["items"], old_root, new_root, f"{path}[]")
    return problems


def _compare_variants(
    old_variants: list[Schema], new: Schema, old_root: Schema, new_root: Schema, path: str
) -> list[str]:
    new_variants = new.get("oneOf") or new.get("anyOf")
    if new_variants is None:
        return [f"{path}: union became a single type"]
    old_sigs = {_variant_id(v, old_root): v for v in old_variants}
    new_sigs = {_variant_id(v, new_root): v for v in new_variants}
    problems = [f"{path}: variant removed: {sig}" for sig in old_sigs if sig not in new_sigs]
    for sig, old_variant in old_sigs.items():
        if sig in new_sigs:
            problems += _compare(old_variant, new_sigs[sig], old_root, new_root, path)
    return problems
