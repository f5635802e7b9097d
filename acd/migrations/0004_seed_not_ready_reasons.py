"""Default not-ready reasons (ACD-7), in Chinese and English; admins add their own."""

from django.db import migrations

# a frozen copy: later edits of acd.choices.DEFAULT_NOT_READY_REASONS do not rewrite history
REASONS = (
    ("busy", "示忙", "Busy"),
    ("break", "小休", "Break"),
    ("meal", "用餐", "Meal"),
    ("meeting", "会议", "Meeting"),
    ("training", "培训", "Training"),
)


def seed(apps, schema_editor):
    NotReadyReason = apps.get_model("acd", "NotReadyReason")
    for order, (code, name, name_en) in enumerate(REASONS):
        NotReadyReason.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "order": order}
        )


def unseed(apps, schema_editor):
    apps.get_model("acd", "NotReadyReason").objects.filter(
        code__in=[code for code, _, _ in REASONS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("acd", "0003_queue_configuration")]

    operations = [migrations.RunPython(seed, unseed)]
