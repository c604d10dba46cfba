/* SPDX-License-Identifier: MIT */
/*
 * config_print.c - the printers of the option table in options.c: the
 * -help text and the markdown reference (doc/options.md).
 */
#include "config.h"
#include "options.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *status_text(const struct opt *o)
{
	switch (o->status) {
	case OPT_BUILT:
		return "";
	case OPT_LATER:
		return " [not supported yet]";
	case OPT_WINDOWS:
		return " [Windows only]";
	case OPT_NOEFFECT:
		return " [accepted, no effect]";
	case OPT_ALIAS:
		break;
	}
	return "";
}

static void print_help_group(FILE *out, int global)
{
	size_t i;

	for (i = 0; i < opt_count; i++) {
		const struct opt *o = &opt_table[i];
		char *left;

		if (!(o->flags & OPT_GLOBAL) != !global)
			continue;
		if (o->status == OPT_ALIAS) {
			fprintf(out, "  %-34s same as %s\n", o->name, o->alias);
			continue;
		}
		left = xasprintf("%s = %s", o->name, o->values);
		if (strlen(left) > 34) /* keep the descriptions aligned */
			fprintf(out, "  %s\n  %-34s %s%s\n", left, "", o->help,
				status_text(o));
		else
			fprintf(out, "  %-34s %s%s\n", left, o->help,
				status_text(o));
		free(left);
	}
}

void config_print_help(FILE *out)
{
	fprintf(out, "Global options (before the first [section]):\n");
	print_help_group(out, 1);
	fprintf(out, "\nService-level options:\n");
	print_help_group(out, 0);
}

/* Markdown table cells: '|' must be escaped, even inside code spans. */
static void md_cell(FILE *out, const char *s, int code)
{
	fputs(code ? " `" : " ", out);
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputs(code ? "` |" : " |", out);
}

static void md_status(FILE *out, const struct opt *o)
{
	switch (o->status) {
	case OPT_BUILT:
		md_cell(out, "built", 0);
		break;
	case OPT_LATER:
		md_cell(out, o->owner, 0);
		break;
	case OPT_WINDOWS:
		md_cell(out, "Windows only", 0);
		break;
	case OPT_NOEFFECT:
		md_cell(out, "accepted, no effect", 0);
		break;
	case OPT_ALIAS:
		md_cell(out, "alias", 0);
		break;
	}
}

static void md_row(FILE *out, const struct opt *o)
{
	const char *def = o->def_text ? o->def_text : o->def;
	char *desc;

	fputs("|", out);
	md_cell(out, o->name, 1);
	md_cell(out, o->flags & OPT_GLOBAL	   ? "global" :
		     o->set == config_include ? "anywhere" :
						"service", 0);
	if (o->status == OPT_ALIAS) {
		desc = xasprintf("same as `%s`", o->alias);
		fputs(" |", out);
		fputs(" |", out);
		fputs(" |", out);
		md_status(out, o);
		md_cell(out, desc, 0);
		fputs("\n", out);
		free(desc);
		return;
	}
	md_cell(out, o->values, 1);
	if (def && o->status == OPT_BUILT)
		md_cell(out, def, !o->def_text);
	else
		fputs(" – |", out);
	if (o->status == OPT_BUILT)
		md_cell(out, o->flags & OPT_NORELOAD ? "no" : "yes", 0);
	else
		fputs(" – |", out);
	md_status(out, o);
	desc = o->note ? xasprintf("%s (%s)", o->help, o->note) :
			 xstrdup(o->help);
	md_cell(out, desc, 0);
	fputs("\n", out);
	free(desc);
}

void config_print_markdown(FILE *out)
{
	size_t i;

	fputs("# ktlsd configuration options\n\n"
	      "<!-- Generated from the option table in daemon/options.c "
	      "(config_print_markdown); do not edit by hand. -->\n\n"
	      "ktlsd reads stunnel.conf files unchanged. Global options go "
	      "before the first `[section]`; service-level options given "
	      "there are the defaults of every section. Option names and "
	      "keyword values are case-insensitive.\n\n"
	      "Status: **built** options work now; an option marked with the "
	      "issue that will build it (`#5`) or *later* fails the "
	      "configuration with `option 'NAME' is not supported yet`, "
	      "rather than being ignored; *Windows only* options "
	      "fail with `option 'NAME' is only available on Windows`; "
	      "*accepted, no effect* options are accepted, with a notice in "
	      "the log, so that old files keep working. Reload: whether a "
	      "SIGHUP applies a change.\n\n"
	      "| Option | Scope | Values | Default | Reload | Status | "
	      "Description |\n"
	      "|---|---|---|---|---|---|---|\n", out);
	for (i = 0; i < opt_count; i++)
		if (opt_table[i].flags & OPT_GLOBAL)
			md_row(out, &opt_table[i]);
	for (i = 0; i < opt_count; i++)
		if (!(opt_table[i].flags & OPT_GLOBAL))
			md_row(out, &opt_table[i]);
}
