# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters rendering a usage_report result: report_csv, report_markdown, report_html, report_json."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.module_utils._cost import report_render


def _check(report, name):
    if not isinstance(report, dict) or "window" not in report or "currency" not in report:
        raise AnsibleFilterError(
            "%s: expected the 'report' returned by platykus.platform.usage_report (register it and pass result.report)"
            % name
        )
    return report


def report_json(report):
    return report_render.to_json(_check(report, "report_json"))


def report_csv(report):
    return report_render.to_csv(_check(report, "report_csv"))


def report_markdown(report):
    return report_render.to_markdown(_check(report, "report_markdown"))


def report_html(report, title=None):
    return report_render.to_html(_check(report, "report_html"), title=title)


class FilterModule:
    def filters(self):
        return {
            "report_json": report_json,
            "report_csv": report_csv,
            "report_markdown": report_markdown,
            "report_html": report_html,
        }
