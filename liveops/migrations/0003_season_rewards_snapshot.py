from django.db import migrations, models


def closed_seasons_take_board_rewards(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Seasons closed before the snapshot existed are paid as the board stands now (what the
    payout job did until then)."""
    season_model = apps.get_model("liveops", "LeaderboardSeason")
    for season in season_model.objects.filter(status="closed").select_related("board"):
        season.rewards = season.board.rewards
        season.save(update_fields=["rewards"])


class Migration(migrations.Migration):
    dependencies = [
        ("liveops", "0002_leaderboards"),
    ]

    operations = [
        migrations.AddField(
            model_name="leaderboardseason",
            name="rewards",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(closed_seasons_take_board_rewards, migrations.RunPython.noop),
    ]
