from django.urls import re_path

from . import views

PROJECT = r"^projects/(?P<project_id>[0-9]{1,18})"
urlpatterns = [
    re_path(rf"{PROJECT}/gold/?$", views.ProjectGoldView.as_view(), name="project-gold"),
    re_path(rf"{PROJECT}/gold/(?P<task_id>[0-9]{{1,18}})/?$", views.ProjectGoldTaskView.as_view(),
            name="project-gold-task"),
    re_path(rf"{PROJECT}/consensus/?$", views.ProjectConsensusView.as_view(), name="project-consensus"),
    re_path(rf"{PROJECT}/quality/?$", views.ProjectQualityView.as_view(), name="project-quality"),
    re_path(rf"{PROJECT}/quality-rules/?$", views.ProjectQualityRulesView.as_view(), name="project-quality-rules"),
    re_path(r"^quality-rules/(?P<rule_id>[0-9]{1,18})/?$", views.QualityRuleView.as_view(), name="quality-rule"),
    re_path(rf"{PROJECT}/rule-firings/?$", views.ProjectRuleFiringsView.as_view(), name="project-rule-firings"),
    re_path(r"^rule-firings/(?P<firing_id>[0-9]{1,18})/revert/?$", views.RuleFiringRevertView.as_view(),
            name="rule-firing-revert"),
    re_path(rf"{PROJECT}/suspensions/?$", views.ProjectSuspensionsView.as_view(), name="project-suspensions"),
    re_path(r"^suspensions/(?P<suspension_id>[0-9]{1,18})/lift/?$", views.SuspensionLiftView.as_view(),
            name="suspension-lift"),
    re_path(rf"{PROJECT}/flags/?$", views.ProjectFlagsView.as_view(), name="project-flags"),
    re_path(r"^flags/(?P<flag_id>[0-9]{1,18})/resolve/?$", views.FlagResolveView.as_view(), name="flag-resolve"),
]
