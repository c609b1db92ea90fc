from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_deadletter_replay_permission'),
    ]

    operations = [
        migrations.AlterField(
            model_name='idempotencykey',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
    ]
