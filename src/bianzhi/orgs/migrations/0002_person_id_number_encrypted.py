"""Citizen ID numbers: from clear text to SM4 ciphertext, HMAC-SM3 blind index and masked form."""

from django.db import migrations, models

FIELD = "orgs.person.id_number"


def seal(apps, schema_editor):
    from bianzhi.common import pii
    from bianzhi.common.codes import mask_resident_id

    Person = apps.get_model("orgs", "Person")
    batch = []
    for person in Person.objects.only("pk", "id_number").iterator(chunk_size=2000):
        number = pii.normalise(person.id_number)
        person.id_number_enc = pii.encrypt(number, field=FIELD)
        person.id_number_index = pii.blind_index(number)
        person.id_number_masked = mask_resident_id(number)
        batch.append(person)
        if len(batch) >= 2000:
            Person.objects.bulk_update(batch, ["id_number_enc", "id_number_index", "id_number_masked"])
            batch = []
    if batch:
        Person.objects.bulk_update(batch, ["id_number_enc", "id_number_index", "id_number_masked"])


def unseal(apps, schema_editor):
    from bianzhi.common import pii

    Person = apps.get_model("orgs", "Person")
    batch = []
    for person in Person.objects.only("pk", "id_number_enc").iterator(chunk_size=2000):
        person.id_number = pii.decrypt(person.id_number_enc, field=FIELD)
        batch.append(person)
    Person.objects.bulk_update(batch, ["id_number"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="person", name="id_number_enc",
            field=models.CharField(default="", editable=False, max_length=128,
                                   verbose_name="citizen ID number (encrypted)"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="person", name="id_number_index",
            field=models.CharField(editable=False, max_length=64, null=True,
                                   verbose_name="citizen ID number (blind index)"),
        ),
        migrations.AddField(
            model_name="person", name="id_number_masked",
            field=models.CharField(default="", editable=False, max_length=18,
                                   verbose_name="citizen ID number (masked)"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="person", name="id_number",
            field=models.CharField(max_length=18, null=True, verbose_name="citizen ID number"),
        ),
        migrations.RunPython(seal, unseal),
        migrations.RemoveField(model_name="person", name="id_number"),
        migrations.AlterField(
            model_name="person", name="id_number_index",
            field=models.CharField(editable=False, max_length=64, unique=True,
                                   verbose_name="citizen ID number (blind index)"),
        ),
    ]
