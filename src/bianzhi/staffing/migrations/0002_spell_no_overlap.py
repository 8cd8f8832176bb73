"""A person counts in at most one record on any day, province-wide — guarded in the database.

PostgreSQL: an exclusion constraint over (person, [hire_date, leave_date)) with btree_gist.
SQLite: triggers that refuse an insert or update overlapping another record of the person.
The services check the same rule in Python first, so users get a clear error; the guard is
for whatever bypasses them.
"""

from django.db import migrations

SQLITE_CONDITION = """
EXISTS (SELECT 1 FROM staffing_spell s
        WHERE s.person_id = NEW.person_id AND s.id IS NOT NEW.id
          AND (s.leave_date IS NULL OR NEW.hire_date < s.leave_date)
          AND (NEW.leave_date IS NULL OR s.hire_date < NEW.leave_date))
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        schema_editor.execute(
            "ALTER TABLE staffing_spell ADD CONSTRAINT spell_no_overlap EXCLUDE USING gist "
            "(person_id WITH =, daterange(hire_date, leave_date, '[)') WITH &&)"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER spell_no_overlap_insert BEFORE INSERT ON staffing_spell WHEN {SQLITE_CONDITION} "
            "BEGIN SELECT RAISE(ABORT, 'spell_overlap'); END"
        )
        schema_editor.execute(
            "CREATE TRIGGER spell_no_overlap_update BEFORE UPDATE OF person_id, hire_date, leave_date "
            f"ON staffing_spell WHEN {SQLITE_CONDITION} BEGIN SELECT RAISE(ABORT, 'spell_overlap'); END"
        )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE staffing_spell DROP CONSTRAINT IF EXISTS spell_no_overlap")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS spell_no_overlap_insert")
        schema_editor.execute("DROP TRIGGER IF EXISTS spell_no_overlap_update")


class Migration(migrations.Migration):
    dependencies = [("staffing", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
