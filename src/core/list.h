/*
 * list — intrusive doubly linked lists threaded through fields the element
 * names itself, so one element can sit on several lists (a connection on
 * the streaming list and the write pass' list). head and tail are lvalues
 * (pointers to the element type); prev and next are field names. Every
 * operation is O(1); none allocates.
 */
#ifndef SG_CORE_LIST_H
#define SG_CORE_LIST_H

#include <stddef.h>

/* Puts el (on no list) first. */
#define SG_LIST_PUSH(head, el, prev, next)                                                       \
	do {                                                                                     \
		(el)->prev = NULL;                                                               \
		(el)->next = (head);                                                             \
		if (head)                                                                        \
			(head)->prev = (el);                                                     \
		(head) = (el);                                                                   \
	} while (0)

/* Takes el off the list that starts at head; its links are cleared. */
#define SG_LIST_UNLINK(head, el, prev, next)                                                     \
	do {                                                                                     \
		if ((el)->prev)                                                                  \
			(el)->prev->next = (el)->next;                                           \
		else                                                                             \
			(head) = (el)->next;                                                     \
		if ((el)->next)                                                                  \
			(el)->next->prev = (el)->prev;                                           \
		(el)->prev = (el)->next = NULL;                                                  \
	} while (0)

/* The same for a list that keeps its tail too: append at the tail ... */
#define SG_DLIST_APPEND(head, tail, el, prev, next)                                              \
	do {                                                                                     \
		(el)->next = NULL;                                                               \
		(el)->prev = (tail);                                                             \
		if (tail)                                                                        \
			(tail)->next = (el);                                                     \
		else                                                                             \
			(head) = (el);                                                           \
		(tail) = (el);                                                                   \
	} while (0)

/* ... and unlink from anywhere. */
#define SG_DLIST_UNLINK(head, tail, el, prev, next)                                              \
	do {                                                                                     \
		if ((el)->prev)                                                                  \
			(el)->prev->next = (el)->next;                                           \
		else                                                                             \
			(head) = (el)->next;                                                     \
		if ((el)->next)                                                                  \
			(el)->next->prev = (el)->prev;                                           \
		else                                                                             \
			(tail) = (el)->prev;                                                     \
		(el)->prev = (el)->next = NULL;                                                  \
	} while (0)

#endif
