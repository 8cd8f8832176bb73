from django.db import migrations


def create_head(apps, schema_editor):
    Head = apps.get_model("common", "AuditChainHead")
    Head.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": "0" * 64})


class Migration(migrations.Migration):
    dependencies = [("common", "0001_initial")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
