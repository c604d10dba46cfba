/* SPDX-License-Identifier: MIT */
#include "log.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

int log_level = LOG_NOTICE;

static struct {
	int configured;		/* a configuration is in force */
	int to_stderr;
	int to_syslog;
	int fd;			/* output file, -1 if none */
	char *path;
	int append;
	char *ident;
} lg = { .to_stderr = 1, .fd = -1 };

static uint64_t dropped;

void log_init(void)
{
	lg.configured = 0;
	lg.to_stderr = 1;
}

static int open_output(const char *path, int append)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY;

	flags |= append ? O_APPEND : O_TRUNC;
	return open(path, flags, 0640);
}

void log_configure(const struct config *cfg)
{
	lg.to_stderr = cfg->foreground == FG_YES;
	if (cfg->syslog && !lg.to_syslog) {
		free(lg.ident);
		lg.ident = xstrdup(cfg->defaults.service_name ?
					   cfg->defaults.service_name :
					   "stunnel");
		openlog(lg.ident, LOG_CONS | LOG_NDELAY | LOG_PID,
			cfg->facility);
	} else if (!cfg->syslog && lg.to_syslog) {
		closelog();
	}
	lg.to_syslog = cfg->syslog;
	lg.configured = 1;
	log_level = cfg->defaults.debug_level;
}

int log_open(const struct config *cfg)
{
	int fd = -1;

	if (cfg->output.v && *cfg->output.v) {
		fd = open_output(cfg->output.v, cfg->log_append);
		if (fd < 0) {
			logm(LOG_ERR, "Cannot open log file %s: %s (%d)",
			     cfg->output.v, strerror(errno), errno);
			return -1;
		}
	}
	if (lg.fd >= 0 && fd >= 0) {
		dup2(fd, lg.fd);	/* keep the number: writers race */
		close(fd);
		fd = lg.fd;
	} else if (lg.fd >= 0) {
		close(lg.fd);
	}
	lg.fd = fd;
	free(lg.path);
	lg.path = fd >= 0 ? xstrdup(cfg->output.v) : NULL;
	lg.append = cfg->log_append;
	log_configure(cfg);
	return 0;
}

void log_reopen(void)
{
	if (lg.fd >= 0 && lg.path) {
		/* "log = overwrite" only truncates on the first open */
		int fd = open_output(lg.path, 1);

		if (fd < 0) {
			logm(LOG_ERR, "Cannot reopen log file %s: %s (%d)",
			     lg.path, strerror(errno), errno);
			return;
		}
		dup2(fd, lg.fd);
		close(fd);
	}
	logm(LOG_NOTICE, "Log file reopened");
}

void log_detach_stderr(void)
{
	lg.to_stderr = 0;
}

void log_close(void)
{
	if (lg.fd >= 0)
		close(lg.fd);
	lg.fd = -1;
	if (lg.to_syslog)
		closelog();
	lg.to_syslog = 0;
	lg.configured = 0;
}

uint64_t log_dropped(void)
{
	return __atomic_load_n(&dropped, __ATOMIC_RELAXED);
}

static void put(int fd, const char *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n != (ssize_t)len)
		__atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
}

static void vlog(int level, const char *id, const char *fmt, va_list ap)
{
	char text[1536], line[1700];
	struct timespec ts;
	struct tm tm;
	int n;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (!lg.configured) {
		static const char mark[] = "***!:.  ";

		n = snprintf(line, sizeof(line), "[%c] %s\n",
			     mark[level & 7], text);
		put(2, line, (size_t)n < sizeof(line) ? (size_t)n :
							sizeof(line) - 1);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "%04d.%02d.%02d %02d:%02d:%02d LOG%d[%s]: %s\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, level, id, text);
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (lg.to_stderr)
		put(2, line, n);
	if (lg.fd >= 0)
		put(lg.fd, line, n);
	if (lg.to_syslog)
		syslog(level, "LOG%d[%s]: %s", level, id, text);
}

void logm(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level && lg.configured)
		return;
	if (!lg.configured && level > LOG_INFO)
		return;
	va_start(ap, fmt);
	vlog(level, "ui", fmt, ap);
	va_end(ap);
}

void logc(const struct service *svc, uint64_t conn_id, int level,
	  const char *fmt, ...)
{
	char id[24];
	va_list ap;

	if (level > (svc ? svc->debug_level : log_level))
		return;
	if (conn_id)
		snprintf(id, sizeof(id), "%llu", (unsigned long long)conn_id);
	else
		strcpy(id, "ui");
	va_start(ap, fmt);
	vlog(level, id, fmt, ap);
	va_end(ap);
}

void log_ssl_errors(const struct service *svc, uint64_t conn_id, int level,
		    const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error())) {
		ERR_error_string_n(e, buf, sizeof(buf));
		logc(svc, conn_id, level, "%s: %s", what, buf);
	}
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, "ui", fmt, ap);
	va_end(ap);
	exit(1);
}
