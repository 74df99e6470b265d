//! Colours and emphasis, in one place. `NO_COLOR` (set and non-empty) turns colour off; the
//! screen then relies on bold, dim, reverse and underline alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    /// Plain text.
    pub text: Style,
    /// Secondary text: times, defaults, hints.
    pub dim: Style,
    /// Section titles and table headers.
    pub title: Style,
    /// The header bar.
    pub bar: Style,
    /// Pane borders; the focused pane's border.
    pub border: Style,
    pub border_focus: Style,
    /// The selected row of the nodes table.
    pub selected: Style,
    /// Healthy: caught handlers, clean exits.
    pub good: Style,
    /// Worth a look: stopping, hazards.
    pub warn: Style,
    /// Went wrong: kills, crashes, failed claims.
    pub bad: Style,
    /// Key labels in the footer and help.
    pub key: Style,
    /// Search matches in the log.
    pub hit: Style,
    /// The filled part of a countdown gauge.
    pub gauge: Style,
    /// Prompts (confirm line, quit prompt).
    pub prompt: Style,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value.
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color { Theme::plain() } else { Theme::colored() }
    }

    pub fn colored() -> Theme {
        Theme {
            color: true,
            text: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            bar: Style::new().fg(Color::Black).bg(Color::Cyan),
            border: Style::new().fg(Color::DarkGray),
            border_focus: Style::new().fg(Color::Cyan),
            // An indexed grey: terminals without true colour render it too.
            selected: Style::new().bg(Color::Indexed(237)).add_modifier(Modifier::BOLD),
            good: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow),
            bad: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            hit: Style::new().fg(Color::Black).bg(Color::Yellow),
            gauge: Style::new().fg(Color::Yellow),
            prompt: Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD),
        }
    }

    /// No colour at all: emphasis by modifiers only.
    pub fn plain() -> Theme {
        Theme {
            color: false,
            text: Style::new(),
            dim: Style::new().add_modifier(Modifier::DIM),
            title: Style::new().add_modifier(Modifier::BOLD),
            bar: Style::new().add_modifier(Modifier::REVERSED),
            border: Style::new(),
            border_focus: Style::new().add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            good: Style::new(),
            warn: Style::new().add_modifier(Modifier::BOLD),
            bad: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            key: Style::new().add_modifier(Modifier::BOLD),
            hit: Style::new().add_modifier(Modifier::REVERSED),
            gauge: Style::new().add_modifier(Modifier::BOLD),
            prompt: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::colored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_theme_has_no_colour_anywhere() {
        let t = Theme::plain();
        for s in [
            t.text,
            t.dim,
            t.title,
            t.bar,
            t.border,
            t.border_focus,
            t.selected,
            t.good,
            t.warn,
            t.bad,
            t.key,
            t.hit,
            t.gauge,
            t.prompt,
        ] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
    }
}
