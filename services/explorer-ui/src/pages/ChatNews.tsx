import { useState } from "react";
import { Loaded, Time } from "../components";
import { useQuery } from "../hooks";

const CHANNELS = `query BroadcastChannels {
  broadcastChannels { id name creator messageCount lastMessageAt createdAt }
}`;

const TIMELINE = `query NewsTimeline($channel: String) {
  newsTimeline(channel: $channel, first: 50) { id channel title body buttons sticky stickyUntil scheduledAt publishedAt updatedAt version }
}`;

const MESSAGES = `query ChannelMessages($channel: String!) {
  chatMessages(channel: $channel, first: 20) {
    edges { node { id author text buttonCaptions timestamp sealed replyTo } }
  }
}`;

interface Channel {
  id: string;
  name: string;
  creator: string;
  messageCount: number;
  lastMessageAt: number | null;
  createdAt: number;
}

interface News {
  id: string;
  channel: string;
  title: string;
  body: string;
  buttons: string[];
  sticky: boolean;
  stickyUntil: number | null;
  scheduledAt: number | null;
  publishedAt: number;
  updatedAt: number;
  version: number;
}

interface Message {
  id: string;
  author: string;
  text: string | null;
  buttonCaptions: string[] | null;
  timestamp: number;
  sealed: boolean;
  replyTo: string | null;
}

function Timeline({ channel }: { channel: string | null }) {
  const state = useQuery<{ newsTimeline: News[] }>(TIMELINE, { channel });
  return (
    <Loaded state={state}>
      {(data) =>
        data.newsTimeline.length === 0 ? (
          <p className="hint">No news yet.</p>
        ) : (
          <ol className="news" data-testid="news-timeline">
            {data.newsTimeline.map((item) => (
              <li key={item.id} className="card">
                <h3>
                  {item.sticky && <span className="badge">pinned</span>} {item.title}
                </h3>
                <p>{item.body}</p>
                {item.buttons.length > 0 && (
                  <p>
                    {item.buttons.map((caption) => (
                      <span key={caption} className="badge">
                        {caption}
                      </span>
                    ))}
                  </p>
                )}
                <p className="hint">
                  <Time unix={item.scheduledAt ?? item.publishedAt} />
                  {item.version > 1 && <> · updated <Time unix={item.updatedAt} /></>}
                </p>
              </li>
            ))}
          </ol>
        )
      }
    </Loaded>
  );
}

function Messages({ channel }: { channel: string }) {
  const state = useQuery<{ chatMessages: { edges: { node: Message }[] } }>(MESSAGES, { channel });
  return (
    <Loaded state={state}>
      {(data) => (
        <ol className="messages" data-testid="channel-messages">
          {data.chatMessages.edges.map(({ node }) => (
            <li key={node.id} className="card">
              <p>{node.text}</p>
              {node.buttonCaptions && node.buttonCaptions.length > 0 && (
                <p>
                  {node.buttonCaptions.map((caption) => (
                    <span key={caption} className="badge">
                      {caption}
                    </span>
                  ))}
                  {node.sealed && <span className="hint"> (closed)</span>}
                </p>
              )}
              <p className="hint">
                <Time unix={node.timestamp} /> · <code className="mono">{node.author.slice(0, 12)}</code>
              </p>
            </li>
          ))}
        </ol>
      )}
    </Loaded>
  );
}

/** Public broadcast channels, their messages and the news timeline. */
export function ChatNewsPage() {
  const channels = useQuery<{ broadcastChannels: Channel[] }>(CHANNELS);
  const [selected, setSelected] = useState<string | null>(null);
  return (
    <>
      <h1>News</h1>
      <p>Public broadcast channels and their news. Direct and group conversations are end-to-end encrypted and never shown here.</p>
      <section className="card">
        <h2>Channels</h2>
        <Loaded state={channels}>
          {(data) =>
            data.broadcastChannels.length === 0 ? (
              <p className="hint">No broadcast channels yet.</p>
            ) : (
              <ul data-testid="broadcast-channels">
                <li>
                  <button type="button" aria-pressed={selected === null} onClick={() => setSelected(null)}>
                    All channels
                  </button>
                </li>
                {data.broadcastChannels.map((channel) => (
                  <li key={channel.id}>
                    <button type="button" aria-pressed={selected === channel.id} onClick={() => setSelected(channel.id)}>
                      {channel.name}
                    </button>{" "}
                    <span className="hint">{channel.messageCount} messages</span>
                  </li>
                ))}
              </ul>
            )
          }
        </Loaded>
      </section>
      <section>
        <h2>Timeline</h2>
        <Timeline channel={selected} />
      </section>
      {selected && (
        <section>
          <h2>Messages</h2>
          <Messages channel={selected} />
        </section>
      )}
    </>
  );
}
