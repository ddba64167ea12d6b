"""All rules, loaded once, indexed by the action kinds they look at."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache

from schemashift.config import Config
from schemashift.rules.base import Rule

# One module per rule. Adding a rule is adding a module here.
RULE_MODULES = (
    "ss001_unparsable_sql", "ss002_dynamic_sql",
    "ss101_rename_column", "ss102_rename_table", "ss103_drop_column", "ss104_drop_table",
    "ss105_add_column_not_null_without_default", "ss106_narrowing_type_change",
    "ss107_drop_not_null", "ss108_drop_default", "ss109_schema_rename_or_drop",
    "ss110_enum_value_rename_or_type_drop", "ss111_drop_view", "ss112_truncate",
    "ss113_drop_constraint",
    "ss201_add_column_volatile_default", "ss202_add_column_default_before_pg11",
    "ss203_add_column_generated_stored", "ss204_add_column_inline_constraint",
    "ss205_alter_column_type_rewrite", "ss206_int_to_bigint_key", "ss207_set_not_null_scan",
    "ss208_table_rewrite_command", "ss209_detach_partition_blocking",
    "ss210_create_trigger_lock", "ss211_enum_add_value_in_transaction",
    "ss212_unbatched_data_change", "ss213_reindex_blocking",
    "ss301_add_foreign_key_validating", "ss302_add_check_validating",
    "ss303_validate_in_same_transaction", "ss304_add_unique_constraint",
    "ss305_add_primary_key", "ss306_add_exclusion_constraint", "ss307_not_valid_never_validated",
    "ss401_create_index_blocking", "ss402_drop_index_blocking",
    "ss403_concurrently_in_transaction", "ss404_concurrent_index_not_idempotent",
    "ss501_missing_lock_timeout", "ss502_multiple_strong_locks_in_transaction",
    "ss601_prefer_text", "ss602_prefer_no_char", "ss603_prefer_timestamptz",
    "ss604_prefer_bigint_key", "ss605_prefer_identity", "ss606_identifier_too_long",
    "ss607_prefer_jsonb",
    "ss701_mysql_copy_algorithm", "ss702_mysql_inplace_rebuild",
    "ss703_mysql_lock_clause_blocks_dml", "ss704_mysql_enum_reorder",
    "ss705_mysql_non_transactional_ddl",
    "ss801_sqlite_table_rebuild", "ss802_sqlite_unsupported_alter",
)  # fmt: skip


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    rules = []
    for name in RULE_MODULES:
        module = importlib.import_module(f"schemashift.rules.{name}")
        rules.append(module.RULE)
    return tuple(sorted(rules, key=lambda r: r.id))


def get_rule(rule_id: str) -> Rule | None:
    rule_id = rule_id.upper()
    return next((r for r in all_rules() if r.id == rule_id), None)


@dataclass(frozen=True)
class RuleIndex:
    by_kind: dict[str, list[Rule]]
    every: list[Rule]  # rules that look at every statement
    finishers: list[Rule]  # rules with an end-of-file check


def rules_for(dialect: str, config: Config) -> RuleIndex:
    by_kind: dict[str, list[Rule]] = {}
    every: list[Rule] = []
    finishers: list[Rule] = []
    for rule in all_rules():
        if dialect not in rule.dialects or not config.rule_enabled(rule.id):
            continue
        if rule.finish is not None:
            finishers.append(rule)
        if "*" in rule.kinds:
            every.append(rule)
            continue
        for kind in rule.kinds:
            by_kind.setdefault(kind, []).append(rule)
    return RuleIndex(by_kind, every, finishers)


__all__ = ["Rule", "RuleIndex", "all_rules", "get_rule", "rules_for"]
