//! The public send methods of every handle, defined once.

/// The public send methods, one definition for every handle (inside its `impl` block).
macro_rules! send_methods {
    () => {
        /// Sends `msg` without waiting for a reply. Waits for room when the mailbox is
        /// full, at most [`Tell::timeout`](crate::Tell::timeout) when set; an actor's
        /// messages to itself never wait. The caller's context (active when the send is
        /// first polled) travels with the message. [`Tell::blocking`](crate::Tell::blocking)
        /// runs it from sync code.
        pub fn tell<Msg>(&self, msg: Msg) -> $crate::handle::tell::Tell<'_, Self, Msg>
        where
            Msg: $crate::message::Message,
            Self: $crate::handle::Target<Msg>,
        {
            $crate::handle::tell::Tell::new(self, msg)
        }

        /// Sends `msg` without waiting at all: [`SendError::Full`](crate::SendError::Full)
        /// hands it back when the mailbox is full.
        pub fn try_tell<Msg>(&self, msg: Msg) -> Result<(), $crate::error::SendError<Msg>>
        where
            Msg: $crate::message::Message,
            Self: $crate::handle::Target<Msg>,
        {
            $crate::handle::Target::tell_now(self, msg)
        }

        /// `tell` from sync code: blocks the thread while the mailbox is full. On an actor
        /// thread it refuses with [`SendError::WouldBlock`](crate::SendError::WouldBlock)
        /// instead of blocking the actor.
        pub fn blocking_tell<Msg>(&self, msg: Msg) -> Result<(), $crate::error::SendError<Msg>>
        where
            Msg: $crate::message::Message,
            Self: $crate::handle::Target<Msg>,
        {
            self.tell(msg).blocking()
        }

        /// Sends `msg` and waits for the reply, at most the system's default ask timeout
        /// ([`Ask::timeout`](crate::Ask::timeout) changes it). The timeout covers the whole
        /// ask: the wait for room in the mailbox and the wait for the reply.
        /// [`Ask::blocking`](crate::Ask::blocking) runs it from sync code.
        pub fn ask<Msg>(&self, msg: Msg) -> $crate::handle::ask::Ask<'_, Self, Msg>
        where
            Msg: $crate::message::Message,
            Self: $crate::handle::Target<Msg>,
        {
            let timeout = $crate::handle::Target::default_ask_timeout(self);
            $crate::handle::ask::Ask::new(self, msg, timeout)
        }

        /// `ask` from sync code with the default timeout: blocks the thread until the
        /// reply. On an actor thread it refuses with `WouldBlock`.
        pub fn blocking_ask<Msg>(
            &self,
            msg: Msg,
        ) -> Result<Msg::Reply, $crate::error::AskError<Msg>>
        where
            Msg: $crate::message::Message,
            Self: $crate::handle::Target<Msg>,
        {
            self.ask(msg).blocking()
        }
    };
}

pub(crate) use send_methods;
