from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("planning", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="planrequest",
            name="travel",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text=(
                    "Travel-time provider: what was asked (spec) and what the plan used (provider, rules, extract "
                    "SHA-256 or grid hash). Empty: straight line."
                ),
            ),
        ),
    ]
