"""The declarative rule sets the pipeline runs on, loaded once per process from their YAML folders.

Mappings, the semantic dictionary, arbitration rules and views are data; a deployment may point at its
own folders. Loading validates them, so a broken rule file stops the hub at start with its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from conflict_rules import load_rules as load_arbitration_rules
from conflict_rules.model import RuleSet
from mappings import load_rules as load_mapping_rules
from mappings.engine import RuleBook
from semantic_layer.dictionary import SemanticDictionary, load_dictionary
from semantic_layer.views import ViewRegistry, load_views


KIND_ALIASES = {"wms": "qimen"}
DICTIONARY_ENTRIES = {platform: entry for entry, platform in KIND_ALIASES.items()}
"""Platform → its semantic dictionary entry, where the two names differ."""


@dataclass(frozen=True)
class Semantics:
    mappings: RuleBook
    dictionary: SemanticDictionary
    rules: RuleSet
    views: ViewRegistry

    def know_instance(self, name: str, platform: str) -> None:
        """Claims of source instance ``name`` mean what its platform's dictionary entry says, whatever the
        operator named it (``shop_eu`` is a shopify store; a qimen source is read with the ``wms`` entry)."""
        self.dictionary.alias(name, DICTIONARY_ENTRIES.get(platform, platform))

    def kind_of(self, source: str) -> str:
        """The mapping connector for a source with no registered instance: ``douyin_shop2`` → ``douyin``;
        a generic ``wms`` speaks the Qimen protocol."""
        kind = source.split("_", 1)[0]
        return KIND_ALIASES.get(kind, kind)


@lru_cache(maxsize=1)
def semantics() -> Semantics:
    return Semantics(
        mappings=load_mapping_rules(),
        dictionary=load_dictionary(),
        rules=load_arbitration_rules(),
        views=load_views(),
    )
