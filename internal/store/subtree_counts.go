package store

import (
	"context"
	"database/sql"
	"fmt"
)

// SQLite keeps org_subtree_counts (see ent/schema.OrgSubtreeCount) with the
// row-level triggers below; PostgreSQL has statement-level ones, created by the
// versioned migration that added the table. Both count, per (ancestor,
// capabilities), the live orgs that closure rows put in the ancestor's
// subtree, in the transaction of the write that changed them.
var sqliteSubtreeTriggers = map[string]string{
	"org_subtree_counts_closure_insert": "CREATE TRIGGER `org_subtree_counts_closure_insert` AFTER INSERT ON `org_closures` BEGIN " +
		"INSERT INTO `org_subtree_counts` (`ancestor_id`, `capabilities`, `live`) " +
		"SELECT NEW.`ancestor_id`, o.`capabilities`, 1 FROM `organizations` o WHERE o.`id` = NEW.`descendant_id` AND o.`deleted_at` IS NULL " +
		"ON CONFLICT (`ancestor_id`, `capabilities`) DO UPDATE SET `live` = `live` + 1; END",
	"org_subtree_counts_closure_delete": "CREATE TRIGGER `org_subtree_counts_closure_delete` AFTER DELETE ON `org_closures` BEGIN " +
		"UPDATE `org_subtree_counts` SET `live` = `live` - 1 WHERE `ancestor_id` = OLD.`ancestor_id` AND `capabilities` = " +
		"(SELECT o.`capabilities` FROM `organizations` o WHERE o.`id` = OLD.`descendant_id` AND o.`deleted_at` IS NULL); END",
	"org_subtree_counts_org_update": "CREATE TRIGGER `org_subtree_counts_org_update` AFTER UPDATE OF `capabilities`, `deleted_at` ON `organizations` " +
		"WHEN OLD.`capabilities` IS NOT NEW.`capabilities` OR (OLD.`deleted_at` IS NULL) <> (NEW.`deleted_at` IS NULL) BEGIN " +
		"UPDATE `org_subtree_counts` SET `live` = `live` - 1 WHERE OLD.`deleted_at` IS NULL AND `capabilities` = OLD.`capabilities` " +
		"AND `ancestor_id` IN (SELECT c.`ancestor_id` FROM `org_closures` c WHERE c.`descendant_id` = NEW.`id`); " +
		"INSERT INTO `org_subtree_counts` (`ancestor_id`, `capabilities`, `live`) " +
		"SELECT c.`ancestor_id`, NEW.`capabilities`, 1 FROM `org_closures` c WHERE c.`descendant_id` = NEW.`id` AND NEW.`deleted_at` IS NULL " +
		"ON CONFLICT (`ancestor_id`, `capabilities`) DO UPDATE SET `live` = `live` + 1; END",
}

const sqliteSubtreeBackfill = "INSERT INTO `org_subtree_counts` (`ancestor_id`, `capabilities`, `live`) " +
	"SELECT c.`ancestor_id`, o.`capabilities`, COUNT(*) FROM `org_closures` c JOIN `organizations` o ON o.`id` = c.`descendant_id` " +
	"WHERE o.`deleted_at` IS NULL GROUP BY c.`ancestor_id`, o.`capabilities`"

// ensureSQLiteSubtreeCounts installs the triggers on an auto-migrated SQLite
// database. When any is missing (a database written before they existed, or
// a table auto-migration rebuilt, which drops its triggers) the counts are
// recomputed from the tree in the same transaction as the triggers are
// (re)created, so no write slips between the two.
func ensureSQLiteSubtreeCounts(ctx context.Context, db *sql.DB) error {
	present := 0
	for name := range sqliteSubtreeTriggers {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?", name).Scan(&n); err != nil {
			return err
		}
		present += n
	}
	if present == len(sqliteSubtreeTriggers) {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmts := []string{}
	for name := range sqliteSubtreeTriggers {
		stmts = append(stmts, "DROP TRIGGER IF EXISTS `"+name+"`")
	}
	stmts = append(stmts, "DELETE FROM `org_subtree_counts`", sqliteSubtreeBackfill)
	for _, create := range sqliteSubtreeTriggers {
		stmts = append(stmts, create)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("subtree counts: %w", err)
		}
	}
	return tx.Commit()
}
