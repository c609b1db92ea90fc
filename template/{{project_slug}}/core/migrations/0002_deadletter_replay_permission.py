from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='deadletter',
            options={'ordering': ['-failed_at'], 'permissions': [('replay_deadletter', 'Can replay dead letters')]},
        ),
    ]
