from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='DeadLetter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('task_id', models.CharField(max_length=255, unique=True)),
                ('task_name', models.CharField(db_index=True, max_length=255)),
                ('queue', models.CharField(blank=True, db_index=True, max_length=255)),
                ('args', models.JSONField(default=list)),
                ('kwargs', models.JSONField(default=dict)),
                ('exception', models.TextField()),
                ('traceback', models.TextField(blank=True)),
                ('attempts', models.PositiveIntegerField()),
                ('failed_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('replayed_at', models.DateTimeField(blank=True, null=True)),
                ('replay_task_id', models.CharField(blank=True, max_length=255)),
            ],
            options={
                'ordering': ['-failed_at'],
            },
        ),
        migrations.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=255, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
