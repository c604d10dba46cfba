/* SPDX-License-Identifier: MIT */
/*
 * ktls_record.c - control records on a kTLS socket.
 *
 * Once keys are in the kernel, plain send() makes application_data
 * records; anything else (alerts, close_notify, handshake messages) goes
 * out through sendmsg() with a SOL_TLS/TLS_SET_RECORD_TYPE cmsg. On RX a
 * control record makes splice() fail with EINVAL and recv() without room
 * for a cmsg fail with EIO; recvmsg() with a cmsg buffer returns it with
 * SOL_TLS/TLS_GET_RECORD_TYPE, one record type per call.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "ktls.h"

ssize_t ktls_send_record(int fd, uint8_t type, const void *buf, size_t len,
			 int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint8_t))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	if ((len && !buf) || (flags & MSG_MORE))
		return -EINVAL;
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(sizeof(uint8_t));
	*CMSG_DATA(cm) = type;
	msg.msg_controllen = cm->cmsg_len;

	n = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

int ktls_send_alert(int fd, uint8_t level, uint8_t desc, int flags)
{
	const uint8_t body[2] = { level, desc };
	ssize_t n;

	n = ktls_send_record(fd, KTLS_RT_ALERT, body, sizeof(body), flags);
	if (n < 0)
		return (int)n;
	/* two bytes go out whole or not at all; a short count is a bug */
	return n == (ssize_t)sizeof(body) ? 0 : -EIO;
}

int ktls_send_close_notify(int fd, int flags)
{
	return ktls_send_alert(fd, KTLS_ALERT_WARNING, KTLS_ALERT_CLOSE_NOTIFY,
			       flags);
}

int ktls_send_key_update(int fd, int update_requested, int flags)
{
	/* msg_type, a 24-bit length of 1, request_update */
	const uint8_t msg[5] = { KTLS_HS_KEY_UPDATE, 0, 0, 1,
				 update_requested ? 1 : 0 };
	ssize_t n;

	n = ktls_send_record(fd, KTLS_RT_HANDSHAKE, msg, sizeof(msg), flags);
	if (n < 0)
		return (int)n;
	return n == (ssize_t)sizeof(msg) ? 0 : -EIO;
}

ssize_t ktls_recv_record(int fd, void *buf, size_t len, uint8_t *type,
			 int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint8_t))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	if (!type || (len && !buf))
		return -EINVAL;
	*type = KTLS_RT_APPLICATION_DATA;
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);

	n = recvmsg(fd, &msg, flags);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_TLS &&
		    cm->cmsg_type == TLS_GET_RECORD_TYPE &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(uint8_t))) {
			*type = *CMSG_DATA(cm);
			break;
		}
	}
	return n;
}
